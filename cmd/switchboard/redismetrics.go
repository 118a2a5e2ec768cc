package main

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/switchboard-chat/switchboard/metrics"
)

// redisMetrics observes every Redis command of the cluster node
// (switchboard_redis_command_duration_seconds and _errors_total), labelled
// by the command's name: a fixed word ("evalsha" for the cluster's
// scripts, "publish", "ping", …), never a key.
type redisMetrics struct{ ms *metrics.Set }

var _ redis.Hook = redisMetrics{}

func (h redisMetrics) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		start := time.Now()
		c, err := next(ctx, network, addr)
		h.ms.RedisCommand("dial", time.Since(start), err)
		return c, err
	}
}

func (h redisMetrics) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmd)
		h.ms.RedisCommand(cmd.Name(), time.Since(start), commandError(err))
		return err
	}
}

func (h redisMetrics) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmds)
		h.ms.RedisCommand("pipeline", time.Since(start), commandError(err))
		return err
	}
}

// commandError is err unless it only says a key was missing.
func commandError(err error) error {
	if errors.Is(err, redis.Nil) {
		return nil
	}
	return err
}
