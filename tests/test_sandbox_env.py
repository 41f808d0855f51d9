"""make local and the tests can only reach the embedded AWS, and only run the Terraform they mean to."""
from __future__ import annotations

from local_aws import stack, terraform

USER_ENV = {
    "PATH": "/usr/bin", "HOME": "/home/someone",
    "AWS_PROFILE": "production", "AWS_ACCESS_KEY_ID": "AKIAREAL", "AWS_SECRET_ACCESS_KEY": "real-secret",
    "AWS_SESSION_TOKEN": "real-session", "AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL_S3": "https://s3.example",
    "AWS_CONFIG_FILE": "/home/someone/.aws/config",
    "TF_VAR_region": "eu-west-1", "TF_CLI_ARGS_apply": "-target=module.x", "TF_WORKSPACE": "prod", "TF_DATA_DIR": "/elsewhere",
}


def test_sandbox_env_reaches_only_the_embedded_aws_with_fake_keys() -> None:
    env = stack.sandbox_env("http://127.0.0.1:4599", USER_ENV)
    aws_settings = {k: v for k, v in env.items() if k.startswith("AWS_")}
    assert aws_settings == {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:4599", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_EC2_METADATA_DISABLED": "true",
    }
    assert env["PATH"] == "/usr/bin" and env["HOME"] == "/home/someone"


def test_terraform_env_drops_the_callers_terraform_settings(tmp_path) -> None:
    env = terraform.terraform_env(tmp_path, stack.sandbox_env("http://127.0.0.1:4599", USER_ENV))
    assert not [k for k in env if k.startswith(("TF_VAR_", "TF_CLI_ARGS", "TF_WORKSPACE", "TF_DATA_DIR"))]
    assert env["TF_CLI_CONFIG_FILE"] == str(tmp_path / "terraform.tfrc") and env["TF_INPUT"] == "0"
