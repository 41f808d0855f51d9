"""Reliability of the notes service under load, through the local API (issue 10).

50 concurrent clients for 30 s, across 10 signed-in users: creates (with and without
Idempotency-Key, some retried with the same key), lists, gets (of their own notes and of other
users' notes) and deletes. Then every user's notes are listed to the end and counted:

- notes stored per owner == distinct successful creates - successful deletes;
- no answer is a 5xx;
- no note is ever visible to anyone but its owner (a get of another user's note is a 404, a
  listing holds only the caller's notes);
- an idempotent retry answers the note of the first request.

    .venv/bin/python bench/notes_load.py [--seconds 30] [--clients 50] [--users 10] [--state-dir .local]

Without --state-dir it starts its own stack on free ports with the stage throttling raised out of
the way (as bench/throughput.py does) and stops it afterwards. Exit status 1 when a count is off.
"""
from __future__ import annotations

import argparse
import collections
import http.client
import json
import random
import statistics
import sys
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from bench.throughput import local_stack as running_stack  # noqa: E402
from local_aws import aws, stack as local_stack, tokens  # noqa: E402


@dataclass
class User:
    sub: str
    token: str
    created: set[str] = field(default_factory=set)   # ids of successful creates (201)
    deleted: set[str] = field(default_factory=set)   # ids of successful deletes (204)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def known(self, rng: random.Random) -> str | None:
        with self.lock:
            alive = list(self.created - self.deleted)
        return rng.choice(alive) if alive else None


@dataclass
class Tally:
    statuses: collections.Counter = field(default_factory=collections.Counter)
    latencies: list[float] = field(default_factory=list)
    server_errors: int = 0
    leaks: list[str] = field(default_factory=list)
    idempotency_mismatches: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def sign_in_users(description: dict, count: int) -> list[User]:
    cognito = aws.client("cognito-idp", description["aws_endpoint_url"])
    pool_id, spa = description["user_pool_id"], description["clients"]["spa"]
    client = tokens.AppClient(spa["id"], spa.get("secret"), tuple(spa["callback_urls"]))
    users = []
    for n in range(count):
        email, password = f"load-{n}-{uuid.uuid4().hex[:6]}@example.com", local_stack.demo_password()
        cognito.admin_create_user(UserPoolId=pool_id, Username=email, MessageAction="SUPPRESS",
                                  UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}])
        cognito.admin_set_user_password(UserPoolId=pool_id, Username=email, Password=password, Permanent=True)
        answer = tokens.authorization_code(description["auth_url"], client, email, password)
        attributes = cognito.admin_get_user(UserPoolId=pool_id, Username=email)["UserAttributes"]
        sub = next(a["Value"] for a in attributes if a["Name"] == "sub")
        users.append(User(sub=sub, token=answer["access_token"]))
    return users


def worker(api: str, users: list[User], tally: Tally, deadline: float, seed: int) -> None:
    rng = random.Random(seed)
    parts = urllib.parse.urlsplit(api)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)

    def send(user: User, method: str, path: str, body: dict | None = None, key: str | None = None) -> tuple[int, dict | None]:
        headers = {"authorization": f"Bearer {user.token}", "content-type": "application/json"}
        if key:
            headers["idempotency-key"] = key
        started = time.perf_counter()
        connection.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        response = connection.getresponse()
        raw = response.read()
        with tally.lock:
            tally.latencies.append((time.perf_counter() - started) * 1000)
            tally.statuses[response.status] += 1
            tally.server_errors += response.status >= 500
        return response.status, json.loads(raw) if raw else None

    while time.time() < deadline:
        user, roll = rng.choice(users), rng.random()
        if roll < 0.55:  # create; from 0.35 on with an Idempotency-Key, half of those retried
            body = {"title": f"t{rng.randrange(10**6)}", "content": "x" * rng.randrange(200)}
            key = uuid.uuid4().hex if roll >= 0.35 else None
            status, answer = send(user, "POST", "/notes", body, key)
            if status == 201:
                with user.lock:
                    user.created.add(answer["note"]["id"])
                if key and rng.random() < 0.5:
                    again, retried = send(user, "POST", "/notes", body, key)
                    if again != 201 or retried["note"]["id"] != answer["note"]["id"]:
                        with tally.lock:
                            tally.idempotency_mismatches += 1
        elif roll < 0.75:  # list: only the caller's own notes, ever
            status, answer = send(user, "GET", "/notes?limit=100")
            if status == 200:
                strangers = [n["id"] for n in answer["notes"] if n["ownerSub"] != user.sub]
                if strangers:
                    with tally.lock:
                        tally.leaks += [f"list of {user.sub} showed {strangers}"]
        elif roll < 0.9:  # get: mostly one's own note, sometimes another user's, which must be a 404
            other = rng.choice(users)
            note_id = other.known(rng)
            if note_id is None:
                continue
            status, answer = send(user, "GET", f"/notes/{note_id}")
            if other is not user and status != 404:
                with tally.lock:
                    tally.leaks.append(f"{user.sub} got {note_id} of {other.sub}: {status}")
        else:  # delete one of one's own notes (another client of the same user may have deleted it: 404)
            note_id = user.known(rng)
            if note_id is None:
                continue
            status, _ = send(user, "DELETE", f"/notes/{note_id}")
            if status == 204:
                with user.lock:
                    user.deleted.add(note_id)
    connection.close()


def stored_ids(api: str, user: User) -> list[str]:
    parts = urllib.parse.urlsplit(api)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    ids, cursor = [], None
    while True:
        query = urllib.parse.urlencode({"limit": 100} | ({"cursor": cursor} if cursor else {}))
        connection.request("GET", f"/notes?{query}", headers={"authorization": f"Bearer {user.token}"})
        response = connection.getresponse()
        page = json.loads(response.read())
        assert response.status == 200, page
        ids += [n["id"] for n in page["notes"]]
        cursor = page["next"]
        if not cursor:
            return ids


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--state-dir", type=Path, help="use the running make local of this state folder")
    args = parser.parse_args()
    with running_stack(args.state_dir) as description:
        api = description["api_url"]
        users = sign_in_users(description, args.users)
        tally = Tally()
        deadline = time.time() + args.seconds
        threads = [threading.Thread(target=worker, args=(api, users, tally, deadline, seed)) for seed in range(args.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wrong = {}
        for user in users:
            stored, expected = stored_ids(api, user), user.created - user.deleted
            if len(stored) != len(set(stored)) or set(stored) != expected:
                wrong[user.sub] = {"stored": len(stored), "expected": len(expected)}

    requests = sum(tally.statuses.values())
    latencies = sorted(tally.latencies)
    print(f"{args.clients} clients, {args.users} users, {args.seconds:.0f} s: {requests} requests, "
          f"{requests / args.seconds:.0f} req/s, p50 {statistics.median(latencies):.1f} ms, "
          f"p99 {latencies[int(len(latencies) * 0.99) - 1]:.1f} ms")
    print("statuses: " + ", ".join(f"{status}: {n}" for status, n in sorted(tally.statuses.items())))
    created = sum(len(u.created) for u in users)
    deleted = sum(len(u.deleted) for u in users)
    print(f"distinct creates {created}, deletes {deleted}, stored {created - deleted} expected; "
          f"owners with a wrong count: {len(wrong)} {wrong or ''}")
    print(f"5xx answers: {tally.server_errors}; notes seen by a non-owner: {len(tally.leaks)}; "
          f"idempotent retries answered with another note: {tally.idempotency_mismatches}")
    for leak in tally.leaks[:5]:
        print(f"  leak: {leak}")
    return 1 if wrong or tally.server_errors or tally.leaks or tally.idempotency_mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
