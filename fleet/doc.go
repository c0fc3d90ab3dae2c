// Package fleet mines one block on many machines over NATS and still
// returns the lowest valid nonce, the one the seed's sequential loop (and
// engine.Miner on one machine) finds.
//
// A [Coordinator] (in `powchain mine --nats` or `serve --nats`) hands out
// ranges of the nonce space; [Worker]s (`powchain worker`, one process
// per machine, each with its own engine.Miner, kernel and goroutines)
// mine them and answer. NATS carries the messages: one embedded server
// ([StartServer], `--nats-listen`), a standalone nats-server, or a
// cluster of them joined by routes. There is no other network protocol.
//
// # Subjects and messages
//
// Under a subject prefix P ([DefaultSubject] unless configured; one
// coordinator per prefix), messages are JSON:
//
//	P.job   coordinator → all workers: a [Job] (template prefix and suffix,
//	        target bits, an ID), or a Job with an empty ID: stop, no job
//	P.work  worker → coordinator, request/reply: a [Request] carrying the
//	        [Answer] for the range the worker just finished (if any) and
//	        asking for its next range; the reply is a [Lease]: a range
//	        [Lo, Hi) of the current job, or Idle with a time to ask again,
//	        plus the Job itself when the worker named another one
//
// # Ranges, leases and the lowest nonce
//
// The coordinator keeps, for the current job, the next fresh nonce, the
// leases out, the ranges to hand out again and the lowest verified
// solution so far. A request is served with the lowest range waiting to
// go out again or else the next fresh range, so ranges go out in
// increasing order, and never one at or above the best solution. Each
// range is leased for [Options].Lease. A worker answers a range with the
// lowest nonce in it whose hash meets the target, or with "none in this
// range". A claimed solution is re-hashed by the coordinator before it
// counts; a wrong one is refused, counted against the worker and its
// range handed out again. A lease that runs out (the worker was killed,
// paused or cut off) or that a stopping worker hands back puts its range
// back in line. An answer that comes after its lease ran out, or for a
// job that has ended, is counted as late. A late solution is still
// re-hashed and may lower the best; a late "none" still answers its range
// if nothing has answered it yet (the range waits to go out again, or is
// out again on another lease, with the same bounds: a range goes out again
// as it was), so a range that outlasts its lease on every worker it goes
// to (a loaded machine, a slow kernel) does not go round for ever. Any
// other late answer is ignored: it does no harm, whatever the order of
// events.
//
// The job is solved when a solution n is known and no range below n is
// out or waiting to go out again: every range below n was answered
// "none", and n is the lowest valid nonce.
//
// Range sizes adapt: a worker reports the rate it measures, and its next
// range is about [Options].RangeTime (1 s) of work at that rate, within
// [Options].MinRange and MaxRange; before its rate is known it gets
// InitialRange. A worker asks for its next range as soon as it starts on
// the current one, so a reply is always waiting when it finishes and it
// never sits idle between ranges; the answer for a range travels with
// the request that follows it, one message per range.
//
// # Stale work
//
// A new job (a new tip, new transactions, a cancelled mine) is published
// on P.job. A worker's subscription cancels the mining in progress as soon
// as it arrives (the engine looks at its context every piece of nonces,
// well under a millisecond), drops the ranges of the old job and asks for
// the new one's, so a new job replaces the old one on every worker within
// one NATS delivery. A worker that missed the announcement (it was
// reconnecting) learns the new job from the next reply, which carries the
// job whenever the request named another one.
//
// # Failures
//
// Workers reconnect to any server of the cluster (nats.go learns the
// cluster's servers from the one it reaches) and go on; with no
// coordinator answering they ask again every second, so they outlive
// coordinator restarts. A coordinator's state is in memory, but what a
// job has earned can be carried over a restart: [Coordinator.Progress]
// reports the job's frontier (every range below it answered "none") and
// its best verified solution, and [Coordinator.MineFrom] starts a job
// from them, re-hashing the best solution first and handing out ranges
// from the frontier, never at or above the best. The frontier is all that
// is kept of the answered ranges: ranges answered above it are mined
// again after a restart (at most what was out when it stopped).
// `powchain mine --nats --checkpoint FILE` saves that progress every few
// seconds and resumes from it; `serve --nats` mines a short job per block
// and a restarted node starts its block afresh. Either way workers get
// the new job from its announcement or its first reply. On SIGINT or
// SIGTERM a worker stops mining within one piece of nonces, sends the
// answer of a range it finished but had not sent yet, and hands back the
// leases it holds, the one in a reply still on its way included, so their
// ranges go out again at once (it waits up to 2 s for that reply and 2 s
// for the hand-back: on a loaded machine a reply can take hundreds of
// milliseconds).
//
// # Trust model
//
// The coordinator trusts nothing a worker says about a solution: it
// re-hashes every claimed nonce and checks it lies in the range. It cannot
// check an answer of "none": re-doing the range would cost as much as
// mining it. A worker that falsely answers "none" can therefore hide a
// lower nonce, and the block mined would not be the lowest (it would still
// be valid), and the seed's rule would be broken. That is why workers must
// be authenticated: NATS credentials (user and password or a token in the
// URL, a credentials file, TLS) keep strangers off the subjects, and only
// machines trusted to mine honestly may hold them. Malformed messages are
// refused with an error and counted ([Stats].Garbage); a worker cannot
// hold more than a few leases at once, and every message is bounded in
// size, so a misbehaving client costs the coordinator little. A job's
// template is public to every worker.
//
// # Concurrency
//
// A Coordinator serves NATS requests from one goroutine under one mutex;
// its methods are safe for concurrent use and Mine calls are serialized.
// A Worker's Run must be called once; it returns after it has handed back
// its leases.
package fleet
