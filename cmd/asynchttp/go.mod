module github.com/asynchttp/asynchttp/cmd/asynchttp

go 1.26.0

require (
	github.com/asynchttp/asynchttp v0.0.0
	github.com/asynchttp/asynchttp/asynchttpprom v0.0.0
	github.com/prometheus/client_golang v1.25.0
	github.com/redis/go-redis/v9 v9.23.0
	github.com/stretchr/testify v1.12.1
	github.com/temoto/robotstxt v1.1.2
	golang.org/x/net v0.62.0
)

require go.uber.org/atomic v1.12.0 // indirect

require (
	github.com/asynchttp/asynchttp/asynchttpredis v0.0.0
	github.com/beorn7/perks v1.0.1 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/munnerz/goautoneg v0.0.0-20191010083416-a7dc8b61c822 // indirect
	github.com/pandatix/go-abnf v0.5.5 // indirect
	github.com/prometheus/client_model v0.6.3 // indirect
	github.com/prometheus/common v0.74.0 // indirect
	github.com/prometheus/procfs v0.22.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/text v0.43.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)

replace github.com/asynchttp/asynchttp => ../../

replace github.com/asynchttp/asynchttp/asynchttpprom => ../../asynchttpprom

replace github.com/asynchttp/asynchttp/asynchttpredis => ../../asynchttpredis
