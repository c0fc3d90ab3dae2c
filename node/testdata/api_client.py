"""A client of the reference node's REST API, written with nothing but
Python's standard library (urllib), doing what the tutorial's web front end
does: submit posts, ask for mining, read the chain and list the posts.

It checks a node's answers the way the reference node itself would: every
block's hash is recomputed as sha256(json.dumps(fields, sort_keys=True)),
the previous_hash links are followed and the difficulty is checked.

Usage: python3 api_client.py BASE_URL DIFFICULTY
Prints "ok ..." and exits 0, or prints what failed and exits 1.
"""
import hashlib
import json
import sys
import urllib.error
import urllib.request

BASE = sys.argv[1].rstrip("/")
DIFFICULTY = int(sys.argv[2])
FIELDS = ("index", "transactions", "timestamp", "previous_hash", "nonce")


def request(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-type": "application/json"} if data is not None else {}
    req = urllib.request.Request(BASE + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode(), resp.headers.get("Content-Type", "")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(), err.headers.get("Content-Type", "")


def check(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)


posts = [
    {"author": "alice", "content": "hello from urllib"},
    {"author": "bob", "content": "caf\u00e9 \u2713 \U0001f600 and \"quotes\"", "tags": ["x", 1, 2.5, None, True]},
]
for post in posts:
    status, text, _ = request("POST", "/new_transaction", post)
    check(status == 201 and text == "Success", f"POST /new_transaction: {status} {text!r}")

status, text, _ = request("POST", "/new_transaction", {"author": "", "content": "x"})
check(status == 400 and "author" in text, f"an empty author: {status} {text!r}")

status, text, ctype = request("GET", "/pending_tx")
pending = json.loads(text)
check(status == 200 and ctype.startswith("application/json"), f"GET /pending_tx: {status} {ctype}")
check([p["content"] for p in pending] == [p["content"] for p in posts], f"pending: {pending!r}")
check(all(isinstance(p["timestamp"], float) for p in pending), "timestamps must be floats")
check(pending[1]["tags"] == posts[1]["tags"], "extra keys must be kept")

status, text, _ = request("GET", "/mine")
check(status == 200 and text.startswith("Block #") and text.endswith(" is mined."), f"GET /mine: {status} {text!r}")
status, text, _ = request("GET", "/mine")
check(status == 200 and text == "No transactions to mine", f"GET /mine again: {status} {text!r}")

status, text, ctype = request("GET", "/chain")
check(status == 200 and ctype.startswith("application/json"), f"GET /chain: {status} {ctype}")
dump = json.loads(text)
chain = dump["chain"]
check(dump["length"] == len(chain) and isinstance(dump["peers"], list), "the dump's length and peers")
check({k: chain[0][k] for k in FIELDS} == {"index": 0, "transactions": [], "timestamp": 0, "previous_hash": "0", "nonce": 0},
      f"the genesis block: {chain[0]!r}")
previous = "0"
for i, block in enumerate(chain):
    digest = hashlib.sha256(json.dumps({k: block[k] for k in FIELDS}, sort_keys=True).encode()).hexdigest()
    check(digest == block["hash"], f"block {i}: carries {block['hash']}, hashes to {digest}")
    check(block["previous_hash"] == previous, f"block {i}: previous_hash {block['previous_hash']}, want {previous}")
    check(i == 0 or digest.startswith("0" * DIFFICULTY), f"block {i}: {digest} misses difficulty {DIFFICULTY}")
    check(block["index"] == i, f"block {i}: index {block['index']}")
    previous = digest

# The front end's fetch_posts: every transaction, newest first.
content = []
for block in chain:
    for tx in block["transactions"]:
        tx["index"] = block["index"]
        tx["hash"] = block["previous_hash"]
        content.append(tx)
shown = sorted(content, key=lambda k: k["timestamp"], reverse=True)
check([p["content"] for p in shown][:2] == [posts[1]["content"], posts[0]["content"]], f"posts: {shown!r}")

print("ok", len(chain), "blocks,", len(content), "posts")
