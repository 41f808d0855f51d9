"""Local Cognito: a user pool's OAuth 2.0 / OpenID Connect endpoints and its issuer's keys (spec D).

`LocalCognito` (app.py) is a WSGI app. It reads the pools, app clients, resource servers and domains
of the embedded AWS (boto3, `reload()`), in every region that holds a pool, checks passwords with the
embedded AWS's private `/_local/cognito/<pool>/authenticate` endpoint, reads users live, and signs
tokens with RS256 keys of its own (one key pair for access tokens and another for ID tokens per
pool, D1) that tests and tools can mint tokens of any shape with (`sign()`).

What it serves, on one server:

  Issuer, whatever the Host:  /<pool id>/.well-known/openid-configuration and .../jwks.json.
  A pool's domain: /oauth2/authorize, /login, /oauth2/token, /oauth2/userInfo, /oauth2/revoke,
      /logout, on the Host that names the domain.

Its parts follow the specs they implement (as Authlib splits an authorization server), each
module documenting the choices it makes where AWS is silent:

  pool.py        the control plane: pools, app clients, users (token lifetimes, D7)
  domains.py     which Host reaches which pool's domain (D1)
  keys.py        signing keys, kept in key_dir, and the JWKS (D1)
  discovery.py   the issuer's openid-configuration and jwks.json (D1)
  pages.py       /oauth2/authorize, /login and its CSRF check, /logout (D2)
  grants/        the grant store, one module per grant, PKCE as a check of the code grant (D2, D3)
  issuing.py     the claims of access and ID tokens, the pre token generation trigger (D6, D9)
  clientauth.py  client authentication (RFC 6749 2.3.1)
  token.py       /oauth2/token (D3)
  verifier.py    the one verifier of the pools' access tokens, for userInfo and revoke
  userinfo.py    /oauth2/userInfo (D4)
  revoke.py      /oauth2/revoke (D5)
  responses.py   errors and the responses that carry them
"""
from local_aws.cognito.app import LocalCognito
from local_aws.cognito.domains import domain_hosts
from local_aws.cognito.grants.store import CODE_LIFETIME_S, AuthorizationCode, RefreshGrant
from local_aws.cognito.keys import PoolKeys, SigningKey, load_or_create_keys
from local_aws.cognito.pool import Client, Pool, User, readable
from local_aws.cognito.responses import OAuthError

__all__ = [
    "CODE_LIFETIME_S", "AuthorizationCode", "Client", "LocalCognito", "OAuthError", "Pool", "PoolKeys",
    "RefreshGrant", "SigningKey", "User", "domain_hosts", "load_or_create_keys", "readable",
]
