"""Peers: cache methods mmcache does not implement, run side by side through the same method specs."""

from __future__ import annotations

from .base import Accelerator, Peer, PeerRuntime
from .cache_dit import CACHE_DIT
from .diffusers_caches import FASTERCACHE, FIRST_BLOCK_CACHE, PYRAMID_ATTENTION_BROADCAST, SEACACHE, TAYLORSEER
from .magcache import MAGCACHE

PEERS: dict[str, Peer] = {
    peer.name: peer
    for peer in (FIRST_BLOCK_CACHE, MAGCACHE, TAYLORSEER, PYRAMID_ATTENTION_BROADCAST, FASTERCACHE, SEACACHE,
                 CACHE_DIT)
}

__all__ = ["PEERS", "Peer", "PeerRuntime", "Accelerator"]
