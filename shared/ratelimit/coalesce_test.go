package ratelimit

import (
	"context"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uniasset/integrations/shared/dynamo"
)

// oneTAT answers the two writes a slot is taken with (a TAT set from now,
// or moved on), for one item, and holds its first write until release is
// closed. The conditions themselves are proven against moto
// (TestCoalescedSlotsE2E); this is for how Reserves share writes.
type oneTAT struct {
	dynamo.API
	mu      sync.Mutex
	tat     int64
	writes  int
	entered chan struct{}
	release chan struct{}
}

func (f *oneTAT) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	f.mu.Lock()
	f.writes++
	first := f.writes == 1
	f.mu.Unlock()
	if first {
		close(f.entered)
		<-f.release
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	v, _ := strconv.ParseInt(in.ExpressionAttributeValues[":t0"].(*types.AttributeValueMemberN).Value, 10, 64)
	if strings.Contains(*in.UpdateExpression, "#t0 + :t0") {
		f.tat += v
	} else {
		f.tat = v
	}
	return &dynamodb.UpdateItemOutput{Attributes: map[string]types.AttributeValue{"tat": num(strconv.FormatInt(f.tat, 10))}}, nil
}

// Ten Reserves of one limit at once: the first writes alone, the nine that
// came meanwhile take their slots in one more write, and every slot is
// its own, one interval after the other; past the horizon, the rest are
// told when to ask again.
func TestConcurrentReservesShareAWrite(t *testing.T) {
	for _, c := range []struct {
		name    string
		horizon time.Duration
		granted int
	}{{"all within the horizon", time.Minute, 10}, {"four within the horizon", 350 * time.Millisecond, 4}} {
		t.Run(c.name, func(t *testing.T) {
			db := &oneTAT{entered: make(chan struct{}), release: make(chan struct{})}
			tab := &Table{DB: db, Table: "t", Now: func() time.Time { return t0 }, Coalesce: true}
			l := Limit{Every: 100 * time.Millisecond, Burst: 1, Shards: 1}
			key := Key{"t1", "SEND#wh"}
			type answer struct {
				ok    bool
				start time.Time
				err   error
			}
			answers := make(chan answer, 10)
			reserve := func() {
				ok, start, err := tab.Reserve(context.Background(), key, l, c.horizon)
				answers <- answer{ok, start, err}
			}
			go reserve()
			<-db.entered
			for range 9 {
				go reserve()
			}
			g := group{key, l, c.horizon}
			deadline := time.Now().Add(10 * time.Second)
			for {
				tab.gmu.Lock()
				n := len(tab.groups[g])
				tab.gmu.Unlock()
				if n == 9 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d of 9 Reserves waiting for the first's write", n)
				}
				runtime.Gosched()
			}
			close(db.release)
			var starts, again []time.Time
			for range 10 {
				a := <-answers
				switch {
				case a.err != nil:
					t.Fatal(a.err)
				case a.ok:
					starts = append(starts, a.start)
				default:
					again = append(again, a.start)
				}
			}
			if db.writes != 2 {
				t.Errorf("%d writes for 10 Reserves, want 2", db.writes)
			}
			slices.SortFunc(starts, time.Time.Compare)
			if len(starts) != c.granted {
				t.Fatalf("%d slots taken, want %d", len(starts), c.granted)
			}
			for i, s := range starts {
				if want := t0.Add(time.Duration(i) * l.Every); !s.Equal(want) {
					t.Errorf("slot %d starts at +%v, want +%v", i, s.Sub(t0), want.Sub(t0))
				}
			}
			// Refused ones ask again when the next free slot comes within the horizon.
			for _, a := range again {
				if want := t0.Add(time.Duration(c.granted)*l.Every - c.horizon); !a.Equal(want) {
					t.Errorf("a refused Reserve asks again at +%v, want +%v", a.Sub(t0), want.Sub(t0))
				}
			}
		})
	}
}
