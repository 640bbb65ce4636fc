# The baseline of `archsim bench`'s queue measure: the same M/M/c queue in SimPy, the
# customers-through-a-resource model of its own tutorial. Prints the simulation's wall time
# and the mean wait, as JSON. Arguments: customers servers lambda_per_s mean_service_s seed.
import json
import random
import sys
import time

import simpy

customers, servers = int(sys.argv[1]), int(sys.argv[2])
lam, service, seed = float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
rng = random.Random(seed)
waited = [0.0, 0]


def customer(env, desk):
    arrived = env.now
    with desk.request() as turn:
        yield turn
        waited[0] += env.now - arrived
        waited[1] += 1
        yield env.timeout(rng.expovariate(1.0 / service))


def arrivals(env, desk):
    for _ in range(customers):
        yield env.timeout(rng.expovariate(lam))
        env.process(customer(env, desk))


env = simpy.Environment()
desk = simpy.Resource(env, capacity=servers)
env.process(arrivals(env, desk))
started = time.perf_counter()
env.run()
wall = time.perf_counter() - started
print(json.dumps({"wall_s": wall, "mean_wait_s": waited[0] / max(waited[1], 1), "served": waited[1]}))
