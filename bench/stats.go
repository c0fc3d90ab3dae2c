package bench

import (
	"math"
	"slices"
)

// Summary describes a sample of measurements. The zero Summary (N == 0)
// describes an empty sample.
type Summary struct {
	N                 int
	Mean, Median, P90 float64
	Min, Max          float64
}

// Summarize returns the summary of xs, which it does not modify.
func Summarize(xs []float64) Summary {
	if len(xs) == 0 {
		return Summary{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return Summary{
		N:      len(s),
		Mean:   Mean(s),
		Median: quantileSorted(s, 0.5),
		P90:    quantileSorted(s, 0.9),
		Min:    s[0],
		Max:    s[len(s)-1],
	}
}

// Mean returns the arithmetic mean of xs, 0 for none.
func Mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	var sum float64
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}

// Median returns the median of xs (the mean of the two middle values for
// an even count), 0 for none. It does not modify xs.
func Median(xs []float64) float64 { return Quantile(xs, 0.5) }

// Quantile returns the q-quantile of xs, 0 <= q <= 1, interpolating
// linearly between the two nearest ranks: with the n values sorted as
// x[0] <= ... <= x[n-1], it is x[h] + (h-floor(h))(x[floor(h)+1]-x[floor(h)])
// at h = (n-1)q. This is the definition numpy, R (type 7) and
// spreadsheets use by default; q = 0.5 is the median. It returns 0 for
// none and does not modify xs.
func Quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return quantileSorted(s, q)
}

func quantileSorted(s []float64, q float64) float64 {
	q = math.Max(0, math.Min(1, q))
	h := float64(len(s)-1) * q
	lo := int(math.Floor(h))
	if lo >= len(s)-1 {
		return s[len(s)-1]
	}
	return s[lo] + (h-float64(lo))*(s[lo+1]-s[lo])
}

// Scaling returns how many times faster n workers are than one: rate at n
// workers over rate at one worker; 0 when rate1 is not positive.
func Scaling(rateN, rate1 float64) float64 {
	if rate1 <= 0 {
		return 0
	}
	return rateN / rate1
}

// Efficiency returns the scaling per worker: 1 when n workers are n times
// as fast as one, 0.5 when they are only half that. Workers beyond the
// logical CPUs cannot add speed, so cpus (when > 0) caps the divisor: on
// a 2-CPU machine, 4 workers at twice the one-worker rate are fully
// efficient.
func Efficiency(scaling float64, workers, cpus int) float64 {
	n := workers
	if cpus > 0 && n > cpus {
		n = cpus
	}
	if n <= 0 {
		return 0
	}
	return scaling / float64(n)
}
