"""Which Host reaches which user pool's domain (spec D1), and the pools as one published snapshot.

The Host picks the pool: <domain prefix>.auth.localhost[:port], or
<domain prefix>.auth.<region>.localhost[:port]. Any other Host (127.0.0.1, localhost) reaches the
pool's domain only when exactly one pool has a domain; otherwise, and for a *.localhost naming no
domain, nothing does (the app answers 404). Custom domains: not emulated.

Choice where AWS is silent (UNCONFIRMED): a pool's domain answers at `<prefix>.auth.localhost`, and
always at `<prefix>.auth.<region>.localhost`, which is always unambiguous: AWS's prefixes are unique
per region only, so a prefix used in two regions answers only with its region. Several pools and
domains, of one region or several, are served at once.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from local_aws import hosts
from local_aws.cognito.pool import Pool

_DOMAIN_HOST = re.compile(r"^(?P<prefix>[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)\.auth"
                          r"(?:\.(?P<region>[a-z]{2}(?:-[a-z]+)+-\d))?\.localhost$")


def _regional_host(region: str, prefix: str) -> str:
    return f"{prefix}.auth.{region}.localhost"


def domain_hosts(domains: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """(region, domain prefix) -> the local host name of that domain: `<prefix>.auth.localhost`,
    or `<prefix>.auth.<region>.localhost` when the prefix is used in more than one region."""
    domains = list(domains)
    regions_of: dict[str, set[str]] = {}
    for region, prefix in domains:
        regions_of.setdefault(prefix, set()).add(region)
    return {(region, prefix): f"{prefix}.auth.localhost" if len(regions_of[prefix]) == 1
            else _regional_host(region, prefix) for region, prefix in domains}


@dataclass(frozen=True)
class Pools:
    """The pools this app serves and their domains' hosts: replaced whole by a reload, so that a
    request sees one reload's pools and hosts together."""

    by_id: Mapping[str, Pool] = field(default_factory=dict)
    hosts: Mapping[str, str] = field(default_factory=dict)  # pool id -> its domain's host name

    @classmethod
    def of(cls, pools: Mapping[str, Pool]) -> "Pools":
        named = domain_hosts((pool.region, pool.domain) for pool in pools.values() if pool.domain)
        return cls(dict(pools), {pool_id: named[(pool.region, pool.domain)]
                                 for pool_id, pool in pools.items() if pool.domain})

    def get(self, pool_id: str) -> Pool | None:
        return self.by_id.get(pool_id)

    def for_host(self, host: str) -> Pool | None:
        """The pool whose domain a request's Host header reaches, if exactly one."""
        named = _DOMAIN_HOST.match(hosts.host_name(host))
        pools = self.by_id.values()
        if named:
            found = [p for p in pools if p.domain == named["prefix"] and named["region"] in (None, p.region)]
            return found[0] if len(found) == 1 else None  # a prefix of two regions needs its region
        with_domain = [p for p in pools if p.domain]
        return with_domain[0] if len(with_domain) == 1 else None

    def domain_host(self, pool: Pool) -> str:
        """The host name of a pool's domain (which has one)."""
        return self.hosts.get(pool.id) or _regional_host(pool.region, pool.domain or "")
