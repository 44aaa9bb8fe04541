package devstack

import "time"

// PollQueue and TimedQueue let the external tests drive an SQS event source
// against the stack's moto.
var PollQueue = pollQueue

func TimedQueue(fn string, limit time.Duration, h QueueHandler) QueueHandler {
	return timed(fn, limit, h)
}
