// Package node is powchain's node: the Python tutorial node's REST API,
// served over a durable store, with peers, longest-valid-chain consensus
// and the parallel engine as its miner. Its blocks are byte for byte the
// reference node's, so reference nodes, their web front end and powchain
// nodes can form one network.
//
// # Lifecycle
//
// [Open] opens (or creates) the store in a data directory, checks that it
// was made for the same difficulty and genesis block, and loads the chain
// index (checked against its checksum; every block is validated again only
// with [Config.Revalidate]), the pending transactions and the peers. [Node.Run]
// serves the API on a listener and runs the background work until its
// context is cancelled, then shuts down cleanly: mining stops, in-flight
// requests finish, every goroutine it started returns. [Node.Close]
// closes the store.
//
// # API
//
// Paths, methods, request bodies and success codes are the reference
// node's:
//
//	POST /new_transaction  {"author": ..., "content": ..., other keys kept}  201 "Success"
//	GET  /chain            200 {"length": N, "chain": [blocks with hash], "peers": [urls]}
//	GET  /mine (and POST)  200 "Block #N is mined." or "No transactions to mine"
//	GET  /pending_tx       200 [pending transactions]
//	POST /register_node    {"node_address": URL}  200 and the /chain answer
//	POST /register_with    {"node_address": URL}  200 "Registration successful"
//	POST /add_block        a block with its hash, as peers announce it  201
//	DELETE /peers/{url}    the peer's URL percent-encoded  200, 404 when unknown
//	GET  /health           200 {"status": "ok", "length": ..., ...}
//	GET  /metrics          200 Prometheus text format
//
// and powchain's own, for peers that sync in pages and for the
// dashboard:
//
//	GET  /blocks?from=H&limit=N   200 {"length": L, "blocks": [blocks]}
//	GET  /headers?from=H&limit=N  200 {"length": L, "hashes": [hex hashes]}
//	GET  /events                  200 text/event-stream, the live stream (see below)
//	GET  /                        the dashboard (package node/ui), with Config.UI
//
// /blocks lists the blocks from height H (default 0) on, exactly as
// elements of /chain, at most N of them (default 100, capped at 1000)
// and, past the first, at most [MaxPageBytes] of them; L is the chain's
// length, and a page from H >= L is empty. /headers lists the hashes of the
// blocks from H on (default 1000, capped at 10000), from memory. A
// parameter that is not an integer, a negative from or a limit below 1 is
// 400 naming the parameter. POST /register_node?paged=1, which powchain
// nodes send, answers {"length": L, "peers": [...]} without the chain;
// the reference node ignores the query and answers with its chain.
//
// The node sets a transaction's "timestamp" to its own time as a float,
// strictly increasing, so no two transactions it stamps are the same.
// JSON is read and written as CPython does (package pyjson); bodies of
// JSON answers are sent as application/json, messages as text/plain.
//
// Where the reference node answers 500, hangs or accepts anything, this
// one answers 400 with what was wrong (invalid JSON, a missing or empty
// "author" or "content", nesting deeper than [MaxTxDepth], a bad URL),
// 413 for a body over its limit ([Limits]), 415 for a POST whose
// Content-Type is not application/json (/add_block also takes none), 401
// without the admin token where one is set, 429 past a client's rate, 503
// with Retry-After when the pool or the peer list is full or a
// connection is over a cap (see Hostile input), and for a
// block from a peer 409 (index or previous_hash: it
// does not follow our tip) or 400 (hash or difficulty: it is not a valid
// block), naming the rule; 200 when the block is already ours. Peer URLs
// are normalized ([NormalizePeer]): http and https only, and
// "http://h:p" and "http://h:p/" are one peer; a URL with control
// characters, an encoded '?' or '#' in its path, or a port outside
// 1-65535 is a 400 naming the fault. A peer that cannot be reached makes
// /register_with answer 502, or 504 when it does not answer in time
// ([Config.PeerTimeout]); a peer that answers with an invalid chain, 502
// naming the rule; the peer's own answer is never repeated. Registration
// is two-way: the node registered with adds the caller, the caller adds
// it and up to 16 of the peers it lists, and then registers with those
// too, two at a time in the background. Requests to peers have timeouts
// and size limits and follow no redirects.
//
// # Hostile input
//
// The node is meant to face strangers: whatever a client or a peer
// sends, its memory stays bounded and what it acknowledged stays.
//
//   - Nesting. A transaction may be nested [MaxTxDepth] (64) levels deep,
//     a block [MaxBlockDepth] (66). Bodies are scanned before they are
//     decoded, so whatever /new_transaction accepts can be mined, stored,
//     served and decoded by every peer (CPython's json and pyjson stop
//     near 1000). A pending transaction that cannot be mined (one an
//     older version accepted) is dropped with a log line, at Open or when
//     the miner meets it.
//   - Bodies. Limits.TxBytes (64 KiB), Limits.BlockBytes (2 MiB) and
//     Limits.ControlBytes (16 KiB) cap the bodies; a Content-Length over
//     the cap is refused on the header, at once, and the connection
//     closed. A body that is not a JSON object is refused before it is
//     decoded. Bodies over 64 KiB decode within a budget of
//     Limits.DecodeBytes (4 MiB) at once: a decode takes up to about 30
//     times its input, so that bounds what concurrent large bodies take.
//   - Answers. /chain, /register_node and /blocks are streamed from the
//     store (see Storage) and /pending_tx from the pool's shared text,
//     never copied per request, and a client gets Config.AnswerTimeout
//     (30 s) for each piece or is cut off.
//   - The pool. Limits.PoolBytes (128 MiB of canonical JSON) and
//     Limits.Pending (1,000,000) bound it, checked and reserved atomically;
//     past them /new_transaction answers 503 with Retry-After. The pool
//     keeps canonical JSON only, decoded when mined.
//   - Peers' chains. A /chain (or /register_node) answer is read as a
//     stream, at most Limits.ChainBytes (256 MiB) of it, counted after
//     decompression. A block at a time is held as text (at most
//     Limits.BlockBytes); a non-object where a block belongs ends the
//     download at once, and every block is validated against the one
//     before as it arrives, so a hostile answer costs a few kilobytes.
//     The syncer and a registration stage the valid blocks in the store as
//     they come (see Consensus), so each holds a batch of blocks, not the
//     answer.
//     A peer that sends nothing for Config.PeerTimeout, or takes over ten
//     times that for its whole answer, is dropped.
//   - Consensus. Sync asks up to 8 peers at a time and adopts a longer
//     valid chain as soon as one arrives; a peer that fails is left out
//     of the next rounds for Config.PeerTimeout, doubling with each
//     failure up to 10 minutes.
//   - Peer addresses. [PeerPolicy] decides which addresses may be peers:
//     public ones, loopback when the node is served on loopback, and what
//     serve --peer-allow names; link-local (metadata services), private
//     and reserved addresses are refused otherwise. Names are resolved
//     when dialed and only allowed addresses are connected to.
//     Limits.Peers (128) caps the peer list; DELETE /peers/{url} removes
//     one; with Config.AdminToken the endpoints that change peers need
//     "Authorization: Bearer TOKEN". Without it they are open, as in the
//     reference node: anyone who reaches the node can add and remove
//     peers (within the cap and the policy) and have it call any allowed
//     address.
//   - Connections. Limits.Conns (4096) caps the connections open at
//     once and Limits.ConnsPerClient (64) those from one client address
//     (an IPv6 client by its /64), loopback included. A connection over
//     a cap is accepted, answered 503 with Retry-After and a line saying
//     which cap, and closed: the listener never stops accepting, so one
//     address at its cap delays no other, and the node's memory and
//     goroutines stay bounded (an idle connection costs about 7 KB and a
//     goroutine; 5,000 of them from one address grow the node by about
//     37 MB without the caps and 2 MB with them; one waiting in
//     keep-alive after a request costs about 19 KB, so the default total
//     bounds them near 90 MB). At most 64 refusals are
//     answered at once, each within a second (the request's header is
//     read first, since an HTTP client takes an answer sent before its
//     request for a broken connection); past that a refused connection
//     is reset at once. A connection counts from accept to close
//     whatever it does: a request, an idle keep-alive (2 minutes at
//     most), a GET /events stream. A connection that sends no complete
//     header is closed after 10 s, a request after a minute. Before
//     refusing, a connection over a cap makes room by closing an idle
//     keep-alive connection (one between requests; never one sending or
//     being answered a request, nor a /events stream, nor a new one that
//     has sent nothing yet): over the total cap the one idle for the
//     longest, over the per-client cap the one of the same address idle
//     for the longest, so that addresses holding idle keep-alives cannot
//     lock others out for their 2 minutes. HTTP allows closing an idle
//     keep-alive connection: a client retries an idempotent request on a
//     new one (a request that arrives just as its connection is closed
//     may be lost, as with any idle timeout). The idle connections are
//     kept in order by the server's ConnState hook, so the accept path
//     stays O(1). Only with no connection idle is the newcomer refused.
//     powchain_connections_open,
//     powchain_connections_refused_total{cap="total"|"per_client"} and
//     powchain_connections_evicted_total{cap="total"|"per_client"} count
//     them.
//   - Rates. Config.RateLimit limits each client address on the
//     endpoints that change state (429 with Retry-After, counted in
//     powchain_rate_limited_total); loopback clients are not limited
//     unless Config.RateLoopback, or unless they come through a trusted
//     proxy. The limiter remembers 10,000 addresses; when they are all
//     remembered it forgets those whose bucket is full again (which
//     changes nothing: they are limited as new ones would be), at most
//     once a second, and meanwhile the addresses it cannot remember
//     share one client's bucket. So a flood of fresh addresses (IPv6
//     /64s are cheap) neither grows the table nor gives back their burst
//     to the clients being limited, as starting the table over would.
//   - Proxies. Behind a reverse proxy every request comes from the
//     proxy's address. Config.TrustedProxies (serve --trusted-proxy)
//     names the proxies: for a request whose peer is one of them, the
//     client is the rightmost address of Config.ProxyHeader
//     (X-Forwarded-For, or Forwarded's for= parameters) that is not
//     itself a trusted proxy; what is left of it was written by the
//     client and is not believed, and the header of a peer that is not
//     a trusted proxy is never read. Only the configured header is read,
//     since a proxy passes the other one on as the client wrote it. A
//     request a trusted proxy forwards without the header, or whose
//     entry is not an address ("unknown", an obfuscated name), counts as
//     the proxy's own. Such requests are rate-limited by that client even
//     when the proxy is on loopback: the loopback exemption is for
//     direct clients only, so a proxy on the same host does not make
//     everyone unlimited. Connections are counted before any header is
//     read, so a trusted proxy's connections count against Limits.Conns
//     only, not Limits.ConnsPerClient; instead Limits.ConnsPerClient caps
//     the requests in flight at once of each client a trusted proxy
//     names (a /events stream counts while it lasts): one more is
//     answered 503 with Retry-After, and the proxy's connection stays
//     open.
//
// # Consensus
//
// The longest valid chain wins. A chain from a peer (at registration, or
// when the syncer asks every peer, see Run) replaces ours only if it is
// longer and valid; an invalid one is refused, logged with its first bad
// block and rule, and counted in powchain_blocks_rejected_total, and ours
// is unchanged.
//
// With a powchain peer the chain comes in pages ([Node.Sync]): the node
// asks for the peer's length and latest hashes (GET /headers), finds the
// common ancestor (looking further back, 64 hashes, then 512, then 4096
// ..., when our tip is not among them), and fetches the blocks after it
// (GET /blocks, 1000 at a time), validating each page against the block
// before it ([engine.ValidateNext]). Each request has its own timeout
// (twice [Config.PeerTimeout]); one that fails to connect, times out or
// gets a 5xx is tried again up to five times, after 0.2 s, 0.4 s, 0.8 s
// and 1.6 s. Pages that extend our chain are appended as they arrive, so
// a sync that is stopped or killed resumes from where it was. Pages of a
// fork are staged in the store (at most Limits.ChainBytes of them) until
// the fork is longer than our chain, and then replace our blocks after the
// common ancestor in a chain switch (see Storage). In steady state a sync costs
// one small /headers request per peer. A peer that answers 404 to
// /headers (or answers it with something else than hashes) speaks the
// reference protocol only: its whole chain is fetched with GET /chain (at
// most Limits.ChainBytes, read as a stream, see Hostile input) and
// validated block by block as it is read; the blocks past the common
// prefix with our chain are staged in the store as they come (see
// Storage), and switched to only when the whole answer is read, valid and
// longer than our chain then (and our chain still holds the block the
// fork starts from). An answer that is invalid or cut off anywhere changes
// nothing and its staged blocks are dropped. Registering with a reference
// peer ([Node.RegisterWith]: its POST /register_node answers with its
// chain) reads and adopts that chain the same way. Memory holds a batch of
// blocks and the indexes however long the answer; one stage exists at a
// time, so a second reference peer's download waits for the first one's
// to end (at most ten times Config.PeerTimeout). Peers are asked
// a few at a time; one that keeps failing is asked again only after a
// pause that doubles with each failure. Pages are checked like peers'
// chains: nested at most [MaxBlockDepth] levels a block, and at most
// the larger of [MaxPageBytes] and Limits.BlockBytes, plus 1 MiB, an
// answer.
//
// A block a peer announces is appended if it follows our tip
// ([engine.ValidateNext]); if it is beyond our tip, or the next index on
// another branch, the syncer asks the peers. When blocks leave our chain,
// their transactions return to the pending pool unless the new blocks
// hold them; transactions in blocks that arrive leave the pool. A
// transaction is identified by its canonical JSON (sorted keys, CPython's
// separators).
//
// # Mining
//
// Mining takes the oldest pending transactions (up to
// Limits.BlockTxBytes of canonical JSON and Limits.BlockTxs) into the next
// block and runs the engine's parallel miner, which finds the lowest
// nonce, the one the reference node's loop finds. With [Config.AutoMine]
// (serve --auto-mine) a goroutine mines whenever transactions are pending
// and queues each block for the announcer; /mine mines one block and announces it before it
// answers. One mining attempt runs at a time. Mining never races a new
// tip: a chain change cancels the attempt in progress through its context
// and the miner starts over on the new tip; a block whose tip changed
// between its mining and its commit is dropped, never appended.
//
// With [Config.Fleet] (serve --nats or --nats-listen) blocks are mined by
// remote workers through package fleet's coordinator, with the same lowest
// nonce; GET /workers lists the workers (name, kernel, cores, rate,
// last_seen) and /metrics carries the fleet's powchain_fleet_* counters.
//
// # Storage
//
// The store is one bbolt file, powchain.db, in the data directory:
//
//	meta     format "powchain-node/2", bits (the difficulty in leading zero
//	         bits), genesis (its hash), created (RFC 3339), length (the
//	         chain's length, 8 bytes big-endian), sum (the checksum: the
//	         state of a SHA-256 over the 32-byte hashes of blocks 0..N-1)
//	blocks   8-byte big-endian height -> the block's wire JSON (sorted
//	         keys, with hash), heights 0..N-1 without gaps, exactly as
//	         /chain serves it
//	hashes   8-byte big-endian height -> the block's hash (32 bytes)
//	pending  8-byte big-endian sequence -> the transaction's canonical JSON,
//	         in the order transactions were acknowledged
//	peers    normalized base URL -> the time it was added
//
// A 201 for a transaction or a block means its bbolt transaction was
// committed and fsync'd. Transactions arriving together share a commit:
// bbolt's DB.Batch gathers the writers of [Config.BatchDelay] into one
// transaction and one fsync (group commit). Every chain change (a block
// mined, accepted or a chain adopted) is one bbolt transaction that writes
// the blocks and removes (or returns) their transactions from the pending
// bucket, so a crash at any moment, kill -9 included, leaves either the
// state before the change or the one after it: every acknowledged
// transaction is in the chain or pending, never both, never neither.
//
// A change that replaces blocks (a fork adopted from a peer, a sync or an
// import) is a chain switch, which takes a batch of blocks of memory
// however long the fork and the chain it replaces:
//
//  1. The fork's blocks are staged, in transactions of 2 MiB, in a bucket
//     "staging" (height -> hash and wire JSON); the chain is untouched.
//  2. Our blocks that leave the chain are read a batch at a time; their
//     transactions that are neither pending nor in the new blocks are
//     staged in "staging-pool" to return to the pool (as far as its
//     limits allow: the rest are dropped with a log line); memory holds a
//     hash of each.
//  3. The commit point: one transaction writes a marker (meta "switch":
//     the fork height, the new length and checksum) and deletes the
//     pending transactions the new blocks hold.
//  4. The staged blocks and transactions are moved into the blocks,
//     hashes and pending buckets, 2 MiB a transaction; then one
//     transaction writes the new length and checksum and deletes the
//     marker and the staging buckets.
//
// A crash before the commit point leaves the old chain (Open drops what
// was staged); from it on, Open finishes the move before it reads the
// store, so it finds the new chain: old or new, never a mix. Export
// refuses a store whose switch is not finished (serve or import finish
// it).
//
// Readers do not wait for the move. At the commit point the node's
// memory (index, tip, checksum, pool) takes the new chain, and from it
// on a store reader reads the new chain through the marker: its length,
// the blocks still staged from the staging bucket, the others from the
// blocks bucket (each move transaction deletes blocks from the one and
// puts them into the other, lowest heights first, so one read
// transaction finds each height in one place). A reader waits for the
// commit transaction at most (viewMu), however long the move. Every
// answer (GET /chain, GET /blocks, export, Node.Blocks) reads one bbolt
// read transaction, a snapshot: one that began before the commit point
// sends the old chain whole, however long it takes and however far the
// switch goes meanwhile (the switch does not wait for it either; bbolt
// keeps the pages it reads until it ends), and one that began after it
// the new chain; never a mix. A client that pages through the chain over
// several requests (GET /headers, GET /blocks?from=) can see the chain
// change between two of them, as with any chain change, and tells by the
// length and previous_hash. Chain changes (an append, a mined block, the
// next switch) wait for the whole move (chainMu): mining restarts on the
// new tip at the commit point, with the new blocks' transactions gone
// from the pool, and its block is appended after the move; the replaced
// blocks' transactions return to the pool at the end of the move.
//
// Memory holds the index, the hash of each block (32 bytes a block), and
// the last block; other blocks are read from the store when asked for.
// An append writes its blocks, their hashes, the length and the checksum
// state, so it costs the same at any length; blocks and hashes are
// written with bbolt's FillPercent at 1, since their keys only grow, which
// keeps pages full. Open reads the index, checks it against the checksum
// and checks the last block, and so trusts what the node wrote and
// fsync'd; [Config.Revalidate] (serve --revalidate) decodes and validates
// every block as well. GET /chain, GET /blocks and export stream the
// stored JSON from one read transaction through a 64 KiB buffer: the first
// byte goes out at once and the memory a request takes does not grow with
// the chain. bbolt maps the file with room to spare (64 GiB of address
// space), so that writers never wait for a long read to end; since that
// mapping is never replaced, the node tells the kernel (madvise) which
// mapped pages it no longer needs: those a /chain stream has sent, and all
// of them after every 32 MiB written. The data stays in the page cache. A data directory made for another
// difficulty or genesis block, or another store format (powchain-node/1
// included: export it with the powchain that made it, and import the
// dump), is refused with [ErrDataDirMismatch]; one that another process has
// open, with [ErrDataDirLocked]; one whose index does not match its
// checksum, with [ErrCorrupt]. [ExportTo] streams a store's dump without
// writing; [Node.Import] adopts a dump as a peer's chain would be.
// [ScanDump] reads a local dump as a stream and validates it block by
// block, holding a block or two whatever the dump's length (powchain
// verify); [Node.ImportFrom] then adopts it from a second reading,
// appending a dump that continues the chain in batches, or staging one
// that forks from it and switching to it (powchain import, serve
// --import): memory holds a batch of blocks either way.
// [Synthesize] (powchain loadgen chain) builds big valid chains quickly.
//
// # Logs and metrics
//
// The node logs with log/slog, one line per block: "block mined" with its
// height, hash, nonce, the hashes tried, the hash rate and the time taken;
// "block accepted" (from a peer) with height, hash, nonce and hashes =
// nonce+1, the hashes the sequential search needed; "chain replaced" with
// the fork point and how many blocks and transactions moved; "sync
// started", "sync progress" (every 5 s, with the height, the peer's and
// the rate) and "sync done" for a paged sync. GET /metrics
// serves, from a registry of the node's own: powchain_hash_rate (hashes
// per second over the last 10 s), powchain_hashes_total (with a Fleet,
// both count the hashes the workers' answers report: a worker keeps the
// rate it last measured while it idles, so an idle node's rate is 0),
// powchain_blocks_mined_total, powchain_blocks_accepted_total,
// powchain_blocks_rejected_total{rule}, powchain_chain_replacements_total,
// powchain_chain_height, powchain_pending_transactions, powchain_peers,
// powchain_transactions_total, powchain_sync_blocks_total,
// powchain_sync_pages_total, powchain_sync_retries_total,
// powchain_sync_target_height (the peer's last height while a paged sync
// runs), powchain_connections_open, powchain_connections_refused_total{cap},
// powchain_rate_limited_total (see Hostile input), and the Go and process
// collectors.
// net/http/pprof is not on the API; `powchain serve --debug-addr` serves
// it on an address of its own.
//
// # The live stream
//
// GET /events is Server-Sent Events. The first event, "hello", holds
// /health's fields, the CPU, the peers and the hash rate of each of the
// last 600 seconds; then come "block" (index, hash, nonce, txs,
// timestamp, previous_hash, length) for each block appended, "chain"
// when blocks left the chain or more than 32 arrived at once, "tx" (the
// transaction's canonical JSON as a string; at most 100 a second, the
// rest counted in the next status), "peers" (the peers added or
// removed), "sync" (a consensus round's start, each page of a paged
// sync, and its end) and, every second, "status" (the
// hash rate of that second and of the last ten, height, tip, pending,
// peers, whether a mining attempt runs). An idle stream gets a comment
// line every [EventsConfig].KeepAlive.
//
// Memory stays bounded: every event is encoded once and shared; each
// subscriber has a queue of [EventsConfig].Buffer events, and publishing
// never waits: a subscriber whose queue is full is dropped (its stream
// ends, a browser reconnects and reloads its state), as is one whose
// socket takes no data for [EventsConfig].WriteTimeout. At most
// [EventsConfig].MaxSubscribers streams are open; one more is answered
// 503 with Retry-After. One client address (behind a trusted proxy, the
// client it names) may hold [EventsConfig].MaxPerClient of them, an
// eighth by default; one more is answered 429; direct loopback clients
// are exempt. Each stream holds a connection, counted against
// Limits.ConnsPerClient like any other. powchain_event_subscribers and
// powchain_event_subscribers_dropped_total count them.
//
// # Concurrency
//
// A Node is safe for concurrent use. Five locks, always taken in this
// order when nested: syncMu lets one paged sync run at a time (a second
// one returns at once; mineMu and syncMu are never held together);
// mineMu lets one mining attempt run at a time;
// chainMu serializes chain changes from their check to their commit;
// viewMu (a read-write lock) is held by a chain change from its store
// commit to its memory update (for a chain switch: its commit
// transaction, not its move), and briefly by readers that begin a store
// read transaction, so that what they read from the store is the chain in
// memory; mu (a read-write lock) guards the in-memory state and is never
// held during disk I/O or mining. The index is never modified below its
// length (appends write past it, and a change that removes blocks copies
// the chunk it cuts), so readers copy it under the read lock and read
// without it. No bbolt transaction function takes a node lock. A transaction's record is
// written before it enters the in-memory pool, so a block can only take
// transactions already on disk.
package node
