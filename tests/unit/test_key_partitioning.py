"""The outbox sender puts a key on the partition Kafka's default partitioner chooses (murmur2),
so a citizen's records land where the Java client and aiokafka would put them."""

from __future__ import annotations

import random

from aiokafka.partitioner import murmur2 as aiokafka_murmur2

from samspil.runtime.kafka import KafkaSender, murmur2


def test_murmur2_gives_kafkas_values() -> None:
    # org.apache.kafka.common.utils.UtilsTest: murmur2("21") and murmur2("foobar"), signed.
    assert murmur2(b"21") - 2**32 == -973932308
    assert murmur2(b"foobar") - 2**32 == -790332482


def test_murmur2_agrees_with_aiokafkas_for_keys_of_every_length() -> None:
    rng = random.Random(12)
    for length in range(0, 80):
        for _ in range(20):
            key = rng.randbytes(length)
            assert murmur2(key) == aiokafka_murmur2(key) & 0xFFFFFFFF, key


async def test_a_key_goes_to_the_partition_the_default_partitioner_chooses() -> None:
    sender = KafkaSender("localhost:9", enable_idempotence=False)  # never started
    partitions = list(range(6))
    rng = random.Random(7)
    for _ in range(200):
        key = f"k1:{rng.getrandbits(256):064x}".encode()
        expected = (aiokafka_murmur2(key) & 0x7FFFFFFF) % 6
        assert sender._partition(key, partitions) == expected
        assert sender._partition(key, partitions) == expected  # from the kept hash
