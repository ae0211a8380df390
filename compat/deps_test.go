package compat

import (
	_ "github.com/asynchttp/asynchttp"
	_ "github.com/coder/websocket"
	_ "github.com/go-resty/resty/v2"
	_ "github.com/gocolly/colly/v2"
	_ "github.com/hashicorp/go-retryablehttp"
	_ "github.com/stretchr/testify/require"
)
