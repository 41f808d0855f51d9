"""Helpers shared by the tests: the embedded AWS (`embedded_aws`), RSA keys and JWKs (`keys`),
access tokens (`tokens`) and SigV4-signed requests (`signing`). Fixtures built on them are in
tests/conftest.py."""
