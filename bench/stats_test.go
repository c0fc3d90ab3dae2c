package bench

import (
	"math"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func TestQuantiles(t *testing.T) {
	cases := []struct {
		xs                []float64
		mean, median, p90 float64
	}{
		{[]float64{5}, 5, 5, 5},
		{[]float64{3, 1, 2}, 2, 2, 2.8},        // h = 1.8: 2 + 0.8*(3-2)
		{[]float64{4, 1, 3, 2}, 2.5, 2.5, 3.7}, // h = 2.7: 3 + 0.7*(4-3)
		{[]float64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, 5.5, 5.5, 9.1},
		{[]float64{1, 1, 1, 100}, 25.75, 1, 70.3}, // a lucky and an unlucky block
		{[]float64{-2, 2}, 0, 0, 1.6},
	}
	for _, c := range cases {
		orig := append([]float64(nil), c.xs...)
		s := Summarize(c.xs)
		if !near(s.Mean, c.mean) || !near(s.Median, c.median) || !near(s.P90, c.p90) {
			t.Errorf("Summarize(%v) = mean %g median %g p90 %g; want %g %g %g", c.xs, s.Mean, s.Median, s.P90, c.mean, c.median, c.p90)
		}
		if !near(Median(c.xs), c.median) || !near(Quantile(c.xs, 0.9), c.p90) || !near(Mean(c.xs), c.mean) {
			t.Errorf("Median/Quantile/Mean(%v) disagree with Summarize", c.xs)
		}
		for i := range orig {
			if orig[i] != c.xs[i] {
				t.Fatalf("Summarize sorted its argument: %v", c.xs)
			}
		}
	}
	s := Summarize([]float64{3, 9, 1})
	if s.N != 3 || s.Min != 1 || s.Max != 9 {
		t.Errorf("min/max/n: %+v", s)
	}
	if q := Quantile([]float64{1, 2, 3, 4, 5}, 0); q != 1 {
		t.Errorf("q0 = %g", q)
	}
	if q := Quantile([]float64{1, 2, 3, 4, 5}, 1); q != 5 {
		t.Errorf("q1 = %g", q)
	}
	if s := Summarize(nil); s.N != 0 || s.Median != 0 || s.Mean != 0 {
		t.Errorf("empty: %+v", s)
	}
	if Median(nil) != 0 || Mean(nil) != 0 || Quantile(nil, 0.9) != 0 {
		t.Error("empty sample should give 0")
	}
}

func TestScalingEfficiency(t *testing.T) {
	cases := []struct {
		rateN, rate1  float64
		workers, cpus int
		scaling, eff  float64
	}{
		{10, 10, 1, 2, 1, 1},
		{19, 10, 2, 2, 1.9, 0.95},
		{15, 10, 2, 2, 1.5, 0.75},
		{20, 10, 4, 2, 2, 1},    // 4 workers on 2 CPUs: only 2 can run
		{20, 10, 4, 0, 2, 0.5},  // CPU count unknown
		{8, 10, 2, 8, 0.8, 0.4}, // slower with more workers
		{5, 0, 2, 2, 0, 0},      // no one-worker rate
	}
	for _, c := range cases {
		s := Scaling(c.rateN, c.rate1)
		e := Efficiency(s, c.workers, c.cpus)
		if !near(s, c.scaling) || !near(e, c.eff) {
			t.Errorf("Scaling(%g, %g) = %g, Efficiency(.., %d, %d) = %g; want %g, %g",
				c.rateN, c.rate1, s, c.workers, c.cpus, e, c.scaling, c.eff)
		}
	}
}
