"""The Redis fixture starts a real server that answers."""

import redis
def test_redis_answers(redis_url):
    assert redis.Redis.from_url(redis_url).ping()
