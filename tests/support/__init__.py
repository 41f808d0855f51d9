"""Helpers shared by the tests: the embedded AWS (`embedded_aws`), HTTP on loopback (`http`),
deployment packages and Lambda roles (`lambdas`), RSA keys and JWKs (`keys`), access tokens
(`tokens`) and SigV4-signed requests (`signing`). Fixtures built on them are in tests/conftest.py;
the data-plane tests' handlers and API builder are in tests/gateway_support.py."""
