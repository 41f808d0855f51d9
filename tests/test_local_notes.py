"""The notes service end to end on the local stack: real tokens from the local Cognito, the JWT and
IAM authorizers, the handlers in Lambda environments, DynamoDB in the embedded AWS.

- a hypothesis state machine: random users and operations against the local API, compared with a
  model (a dict of notes per owner), idempotent retries and cross-owner reads included;
- callers without users (the guide's patterns B and C): examples/backend_caller's client-credentials
  client (one token for many calls, a new one across an expiry and after a 401) and its SigV4
  caller of the AWS_IAM route (unsigned 403, allowed 200, signed without permission 403).

Same stack as tests/test_audit.py's tests of this root and tests/test_local_stack.py (their xdist
group, the repository copy of conftest.py's `local_aws_root`); tests/test_local_stack.py's Ctrl-C
test, marked last_of_group, stops the stack after them.
"""
from __future__ import annotations

import importlib.util
import sys
import uuid

import pytest
from botocore.credentials import Credentials
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from tests.tfharness import REPO

pytestmark = pytest.mark.xdist_group("local-stack")


def _example(name: str):
    path = REPO / "examples" / "backend_caller" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"backend_caller_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


notes_client, iam_client = _example("notes_client"), _example("iam_client")


class User:
    def __init__(self, local_stack, n: int):
        email = f"model-{n}-{uuid.uuid4().hex[:6]}@example.com"
        password = local_stack.create_user(email)
        pool = local_stack.pool()
        attributes = local_stack.aws_client("cognito-idp").admin_get_user(UserPoolId=pool["id"], Username=email)["UserAttributes"]
        self.sub = next(a["Value"] for a in attributes if a["Name"] == "sub")
        self.token = local_stack.token("spa", username=email, password=password)


@pytest.fixture(scope="module")
def users(local_stack) -> list[User]:
    return [User(local_stack, n) for n in range(3)]


# --- the model ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def machine_class(local_stack, users):
    api = local_stack.url()

    class NotesMachine(RuleBasedStateMachine):
        """Random operations by three users; the model is what each owner should see."""

        @initialize()
        def start(self) -> None:
            # The table outlives each example: the model starts from what the API shows now, and
            # this example's Idempotency-Keys are its own.
            self.notes: dict[str, dict[str, dict]] = {u.sub: {n["id"]: n for n in self.listing(u, 100)} for u in users}
            self.keys: dict[tuple[str, str], tuple[dict, dict]] = {}  # (owner, key) -> (body, first note)
            self.gone: set[str] = set()
            self.key_prefix = uuid.uuid4().hex[:8]

        def call(self, user: User, method: str, path: str, **kwargs):
            response = local_stack.request(method, f"{api}{path}", token=user.token, **kwargs)
            assert response.status < 500, (method, path, response.status, response.body)
            return response

        @rule(user=st.sampled_from(users), title=st.text(max_size=20), key=st.sampled_from([None, "k1", "k2"]))
        def create(self, user: User, title: str, key: str | None) -> None:
            body = {"title": title, "content": "c"}
            key = key and f"{self.key_prefix}-{key}"
            response = self.call(user, "POST", "/notes", json_body=body, headers={"idempotency-key": key} if key else None)
            if key and (user.sub, key) in self.keys:
                first_body, first_note = self.keys[(user.sub, key)]
                if first_body == body:
                    assert (response.status, response.json()["note"]) == (201, first_note)
                else:
                    assert response.status == 409
                return
            assert response.status == 201, response.body
            note = response.json()["note"]
            assert note["ownerSub"] == user.sub and note["id"] not in self.notes[user.sub]
            self.notes[user.sub][note["id"]] = note
            if key:
                self.keys[(user.sub, key)] = (body, note)

        @precondition(lambda self: any(self.notes.values()))
        @rule(reader=st.sampled_from(users), data=st.data())
        def get(self, reader: User, data) -> None:
            owner = data.draw(st.sampled_from([sub for sub, notes in self.notes.items() if notes]))
            note_id = data.draw(st.sampled_from(sorted(self.notes[owner])))
            response = self.call(reader, "GET", f"/notes/{note_id}")
            if reader.sub == owner:
                assert (response.status, response.json()) == (200, {"note": self.notes[owner][note_id]})
            else:  # another owner's note: the same answer as a note that never existed
                assert (response.status, response.json()) == (404, {"message": "note not found"})

        @precondition(lambda self: any(self.notes.values()) or self.gone)
        @rule(user=st.sampled_from(users), data=st.data())
        def delete(self, user: User, data) -> None:
            candidates = sorted(set().union(*self.notes.values()) | self.gone)
            note_id = data.draw(st.sampled_from(candidates))
            response = self.call(user, "DELETE", f"/notes/{note_id}")
            if note_id in self.notes[user.sub]:
                assert response.status == 204
                del self.notes[user.sub][note_id]
                self.gone.add(note_id)
            else:
                assert response.status == 404

        def listing(self, user: User, limit: int) -> list[dict]:
            seen, cursor = [], None
            while True:
                query = f"?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
                response = self.call(user, "GET", f"/notes{query}")
                assert response.status == 200
                page = response.json()
                seen += page["notes"]
                cursor = page["next"]
                if not cursor:
                    return seen

        @rule(user=st.sampled_from(users), limit=st.integers(1, 3))
        def list_all(self, user: User, limit: int) -> None:
            assert self.listing(user, limit) == sorted(self.notes[user.sub].values(), key=lambda n: n["id"], reverse=True)

        @invariant()
        def ids_unique_across_owners(self) -> None:
            ids = [i for notes in getattr(self, "notes", {}).values() for i in notes]
            assert len(ids) == len(set(ids))

    return NotesMachine


def test_notes_behave_like_the_model(machine_class) -> None:
    machine_class.TestCase.settings = settings(max_examples=6, stateful_step_count=12, deadline=None,
                                               suppress_health_check=list(HealthCheck))
    machine_class.TestCase().runTest()


# --- pattern B: a backend with client credentials ---------------------------------------------------


def _tokens(local_stack, clock=None) -> "notes_client.TokenSource":
    from local_aws import stack
    machine = stack.find_client(local_stack.description, "machine")
    kwargs = {"clock": clock} if clock else {}
    return notes_client.TokenSource(machine.auth_url, machine.id, machine.secret,
                                    scopes=["notes-api/read", "notes-api/write"], **kwargs)


def test_a_backend_fetches_one_token_for_many_calls(local_stack) -> None:
    tokens = _tokens(local_stack)
    client = notes_client.NotesClient(local_stack.url(), tokens)
    created = [client.create({"title": f"from the backend {n}"}) for n in range(5)]
    listed = client.list(limit=100)["notes"]
    assert {n["id"] for n in created} <= {n["id"] for n in listed}
    assert client.get(created[0]["id"]) == created[0]
    client.delete(created[0]["id"])
    with pytest.raises(notes_client.ApiError) as refused:
        client.get(created[0]["id"])
    assert refused.value.status == 404
    assert tokens.fetches == 1


def test_a_backend_renews_its_token_shortly_before_it_expires(local_stack) -> None:
    now = [1000.0]
    tokens = _tokens(local_stack, clock=lambda: now[0])
    client = notes_client.NotesClient(local_stack.url(), tokens)
    client.list()
    first = tokens.token()
    now[0] += 3600 - 61  # still a minute and a second to go: kept
    client.list()
    assert tokens.fetches == 1 and tokens.token() == first
    now[0] += 2  # inside the last minute: a new token before the next call
    client.list()
    assert tokens.fetches == 2 and tokens.token() != first


def test_a_backend_gets_a_new_token_once_on_a_401(local_stack) -> None:
    tokens = _tokens(local_stack)
    client = notes_client.NotesClient(local_stack.url(), tokens)
    client.list()
    tokens._token = "a-token-the-api-refuses"
    assert isinstance(client.list()["notes"], list)  # answered: the client fetched a new token and retried
    assert tokens.fetches == 2
    # A client whose every token is refused reports the second 401 instead of looping.
    refused_tokens = notes_client.TokenSource(tokens.domain_url, tokens.client_id, tokens.client_secret)
    refused_tokens.token = lambda: "always-refused"
    stubborn = notes_client.NotesClient(local_stack.url(), refused_tokens)
    with pytest.raises(notes_client.ApiError) as refused:
        stubborn.list()
    assert refused.value.status == 401


# --- pattern C: an AWS principal signing with SigV4 -------------------------------------------------


@pytest.fixture(scope="module")
def principals(local_stack) -> dict[str, Credentials]:
    """An operator with the root's notes_operator policy, and a user with no permission at all."""
    iam = local_stack.aws_client("iam")
    policy_arn = local_stack.description["outputs"]["notes_operator_policy_arn"]
    found = {}
    for name, policies in (("operator", [policy_arn]), ("stranger", [])):
        user = f"{name}-{uuid.uuid4().hex[:6]}"
        iam.create_user(UserName=user)
        for arn in policies:
            iam.attach_user_policy(UserName=user, PolicyArn=arn)
        key = iam.create_access_key(UserName=user)["AccessKey"]
        found[name] = Credentials(key["AccessKeyId"], key["SecretAccessKey"])
    return found


def test_the_stats_route_answers_only_a_signed_and_allowed_principal(local_stack, principals, users) -> None:
    api, owner = local_stack.url(), users[0]
    local_stack.request("POST", f"{api}/notes", token=owner.token, json_body={"title": "counted"})
    assert local_stack.request("GET", f"{api}/notes/stats?owner={owner.sub}").status == 403
    operator = iam_client.NoteStatsClient(api, region=local_stack.description["region"], credentials=principals["operator"])
    answer = operator.count(owner.sub)
    assert answer["owner"] == owner.sub and answer["notes"] >= 1 and ":user/operator-" in answer["caller"]
    stranger = iam_client.NoteStatsClient(api, region=local_stack.description["region"], credentials=principals["stranger"])
    with pytest.raises(PermissionError, match="^403"):
        stranger.count(owner.sub)
