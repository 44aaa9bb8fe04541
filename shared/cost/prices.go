package cost

// Price is what AWS lists for us-east-1, in dollars, for what the bench
// counts. One table, so a change of price is one line and the bench's
// method says which prices it used.
var Price = struct {
	WRU, RRU            float64 // DynamoDB on-demand, per request unit (since November 2024)
	StorageGBMonth      float64 // DynamoDB Standard table class
	SQSRequest          float64 // standard queue, per request (a 64 KB chunk)
	LambdaRequest       float64
	LambdaGBSecond      float64 // arm64
	HTTPAPIRequest      float64 // API Gateway HTTP API, first 300 million a month
	SchedulerInvocation float64 // EventBridge Scheduler, past the free 14 million a month
}{
	WRU: 0.625 / 1e6, RRU: 0.125 / 1e6,
	StorageGBMonth: 0.25,
	SQSRequest:     0.40 / 1e6,
	LambdaRequest:  0.20 / 1e6, LambdaGBSecond: 0.0000133334,
	HTTPAPIRequest:      1.00 / 1e6,
	SchedulerInvocation: 1.00 / 1e6,
}
