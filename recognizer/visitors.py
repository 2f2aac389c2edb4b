"""The visitor: one browser whose session the site itself stored, and the network it comes from.

Every session-scoped service takes a Visitor, never a bare session key. A Visitor cannot be made without a key,
so "no session" can never be mistaken for "everyone" (an empty owner once marked a model version as shared, and a
cookie-less DELETE reached staff's versions). A request with no stored session has no Visitor: there is nothing of
its own to read, change or delete.
"""

import hashlib
import hmac
from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class Visitor:
    session_key: str  # a key the site issued and stored (recognizer.http.visitor_of checks)
    network: str = ""  # a keyed hash of the client's network (network_key), for budgets per address

    def __post_init__(self) -> None:
        if not self.session_key:
            raise ValueError("a Visitor needs the key of a stored session")

    @property
    def short(self) -> str:
        """How staff see the session: the key's first 8 characters."""
        return self.session_key[:8]


def network_key(network: str) -> str:
    """A keyed hash of a client network (an IPv4 address or an IPv6 /64): rows can be counted per network without
    keeping anyone's address."""
    digest = hmac.new(settings.SECRET_KEY.encode(), network.encode(), hashlib.sha256).hexdigest()
    return digest[:32]
