"""The local stack: the project's Terraform applied to an embedded AWS, with a local Cognito,
a local HTTP API data plane and a Lambda runtime, on loopback. See README.md."""
