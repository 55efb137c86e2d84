"""Scale-out over Redis: several gateway instances that agree (DESIGN.md "Scale").

`shared` is the key/value + change-feed protocol dialects keep their grants in (an in-memory
implementation without Redis, a mirrored one with it); `link` watches the Redis connection;
`channels` carries one switch's normalized channel changes on a Redis stream; `cluster` ties
them together: one ingester per switch by lease, every instance applying every stream.
Nothing here is imported unless `[gateway] redis_url` is set, except `shared`'s memory half.
"""


class RedisUnavailable(Exception):
    """Redis cannot be reached at start: the one line the command line prints."""
