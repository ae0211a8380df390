//go:build !unix

// Platforms without MSG_PEEK: idle conns are reused without a check, and a
// failure before any response byte is retried as usual.

package asynchttp

func (c *conn) peek() bool { return true }
