"""Many clients at once: the thread pool, SQLite write contention (no 500s,
no lost writes) and the atomicity of versioned and idempotent operations."""
import threading
import unittest

from harness import FleetdTestCase

import botocore.exceptions

THREADS = 8


def run_threads(fn, n=THREADS):
    results, errors = [None] * n, []

    def wrap(i):
        try:
            results[i] = fn(i)
        except Exception as e:  # collected and reported by the caller
            errors.append((i, e))

    ts = [threading.Thread(target=wrap, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    return results, errors


class ConcurrencyTest(FleetdTestCase):

    def _fresh(self):
        import boto3
        from botocore.config import Config
        s = boto3.session.Session(aws_access_key_id=self.fleetd.admin[0],
                                  aws_secret_access_key=self.fleetd.admin[1], region_name=self.fleetd.region)
        return s.client("iot", endpoint_url=self.fleetd.endpoint,
                        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=60))

    def test_parallel_creates_and_memberships(self):
        self.iot.create_thing_group(thingGroupName="cc-g")
        per = 40

        def work(i):
            c = self._fresh()
            for j in range(per):
                n = "cc-%d-%02d" % (i, j)
                c.create_thing(thingName=n, attributePayload={"attributes": {"w": str(i)}})
                c.add_thing_to_thing_group(thingGroupName="cc-g", thingName=n)
                c.describe_thing(thingName=n)
            return True

        _, errors = run_threads(work)
        self.assertEqual(errors, [], "errors under concurrent writes: %r" % errors[:3])
        names, token = [], None
        while True:
            kw = {"thingGroupName": "cc-g", "maxResults": 250}
            if token:
                kw["nextToken"] = token
            r = self.iot.list_things_in_thing_group(**kw)
            names += r["things"]
            token = r.get("nextToken")
            if not token:
                break
        self.assertEqual(len(names), THREADS * per)
        self.assertEqual(len(set(names)), THREADS * per)

    def test_expected_version_race(self):
        self.iot.create_thing(thingName="cc-race")

        def work(i):
            c = self._fresh()
            barrier.wait(60)
            try:
                c.update_thing(thingName="cc-race", expectedVersion=1,
                               attributePayload={"attributes": {"winner": str(i)}})
                return "ok"
            except botocore.exceptions.ClientError as e:
                return e.response["Error"]["Code"]

        barrier = threading.Barrier(THREADS)
        results, errors = run_threads(work)
        self.assertEqual(errors, [])
        self.assertEqual(results.count("ok"), 1, results)
        self.assertEqual(results.count("VersionConflictException"), THREADS - 1, results)
        d = self.iot.describe_thing(thingName="cc-race")
        self.assertEqual(d["version"], 2)
        self.assertEqual(d["attributes"]["winner"], str(results.index("ok")))

    def test_identical_create_race(self):
        def work(i):
            c = self._fresh()
            barrier.wait(60)
            return c.create_thing(thingName="cc-same", attributePayload={"attributes": {"a": "1"}})["thingId"]

        barrier = threading.Barrier(THREADS)
        results, errors = run_threads(work)
        self.assertEqual(errors, [], "identical CreateThing racing must all succeed: %r" % errors[:3])
        self.assertEqual(len(set(results)), 1, results)
        self.assertEqual(self.iot.describe_thing(thingName="cc-same")["thingId"], results[0])

    def test_group_limit_race(self):
        # 8 different groups at once for a thing already in 5: 10 is the cap
        for i in range(13):
            self.iot.create_thing_group(thingGroupName="cl-g%02d" % i)
        self.iot.create_thing(thingName="cl-t")
        for i in range(5):
            self.iot.add_thing_to_thing_group(thingGroupName="cl-g%02d" % i, thingName="cl-t")

        def work(i):
            c = self._fresh()
            barrier.wait(60)
            try:
                c.add_thing_to_thing_group(thingGroupName="cl-g%02d" % (5 + i), thingName="cl-t")
                return "ok"
            except botocore.exceptions.ClientError as e:
                return e.response["Error"]["Code"]

        barrier = threading.Barrier(THREADS)
        results, errors = run_threads(work)
        self.assertEqual(errors, [])
        self.assertEqual(results.count("ok"), 5, results)
        self.assertEqual(results.count("InvalidRequestException"), 3, results)
        r = self.iot.list_thing_groups_for_thing(thingName="cl-t", maxResults=250)
        self.assertEqual(len(r["thingGroups"]), 10)


if __name__ == "__main__":
    unittest.main()
