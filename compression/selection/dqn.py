"""The DRL optimizer of seed 004 section 4: a dueling DQN with split rewards.

State o: which slot comes next and what was chosen so far (one-hot blocks).
Action a: the option for the next slot (0 = leave it alone). The environment
is the candidate table: after each action it looks the partial plan up and
returns eq. 8's R1 (objective) and R2 (constraint satisfaction); a plan the
table cannot evaluate gets R1 = 0 and R2 = -1. The network shares dense
layers (omega) and splits into a G stream (beta) trained on R1 and an H
stream (eta) trained on R2; Q = G + H (eq. 7). Targets follow eq. 10: the
online network picks a' = argmax Q(o', .), the target network values it.

Departures from the paper, for a table of a few dozen plans that must train
in seconds: epsilon decays from 1 to ``epsilon_min`` (the paper's 0.001 from
the start would never explore), gamma defaults to 0.9 (the paper's 0.01
makes later slots nearly invisible to earlier choices), and each stream is
fitted to its own reward so that G and H mean what eq. 8 says.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from compression.selection.budgets import Budgets
from compression.selection.candidates import Candidate, by_plan
from compression.selection.objective import Scale, rewards_eq8, score
from compression.selection.outcome import Outcome, build_outcome
from compression.selection.reasons import missing_figures, missing_plans
from compression.selection.space import Space

UNKNOWN_REWARD = (0.0, -1.0)


@dataclass(frozen=True)
class DQNConfig:
    """Training settings (defaults train in a few seconds on a laptop CPU)."""

    episodes: int = 120
    gamma: float = 0.9
    epsilon_min: float = 0.05
    batch_size: int = 32
    memory: int = 2000
    target_every: int = 20
    train_every: int = 2
    hidden: int = 32
    learning_rate: float = 0.01
    seed: int = 0


class _Environment:
    """The candidate table as an MDP over the space's slots."""

    def __init__(self, candidates: Sequence[Candidate], budgets: Budgets, space: Space) -> None:
        self.table = {p: c for p, c in by_plan(list(candidates)).items() if c.complete}
        self.scale = Scale.of(list(self.table.values()))
        self.budgets, self.space = budgets, space
        self.seen: dict[str, Candidate] = {}
        self.missing: dict[str, None] = {}  # ordered set of plans the table lacks
        self.width = len(space.slots) + len(space.slots) * space.actions

    def state(self, step: int, choices: Sequence[int]) -> np.ndarray:
        vector = np.zeros(self.width, dtype="float32")
        if step < len(self.space.slots):
            vector[step] = 1.0
        base = len(self.space.slots)
        for index, choice in enumerate(choices):
            vector[base + index * self.space.actions + choice] = 1.0
        return vector

    def valid(self, step: int) -> np.ndarray:
        return np.arange(self.space.actions) <= len(self.space.slots[step].options)

    def reward(self, choices: Sequence[int]) -> tuple[float, float]:
        text = self.space.plan_text(choices)
        candidate = self.table.get(text)
        if candidate is None:
            self.missing[text] = None
            return UNKNOWN_REWARD
        self.seen[candidate.plan] = candidate
        return rewards_eq8(candidate, self.budgets, self.scale)


def _network(inputs: int, actions: int, config: DQNConfig):  # noqa: ANN202 (keras.Model)
    import keras

    state = keras.Input((inputs,))
    shared = keras.layers.Dense(config.hidden, activation="relu", name="shared")(state)
    g = keras.layers.Dense(config.hidden, activation="relu", name="g_hidden")(shared)
    h = keras.layers.Dense(config.hidden, activation="relu", name="h_hidden")(shared)
    g = keras.layers.Dense(actions, name="G")(g)
    h = keras.layers.Dense(actions, name="H")(h)
    model = keras.Model(state, [g, h])
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss=["mse", "mse"])
    return model


def dqn(
    candidates: Sequence[Candidate],
    budgets: Budgets,
    space: Space,
    config: DQNConfig | None = None,
) -> Outcome:
    """Train the dueling DQN on the table, then follow its greedy policy.

    Args:
        candidates: the table the environment answers from.
        budgets: limits and weights (R1, R2 of eq. 8).
        space: the slots and options (the actions).
        config: training settings; the seed makes the run reproducible.

    Returns:
        The outcome; ``details["q_values"]`` holds Q(o0, .) after training and
        ``details["policy"]`` the greedy rollout's plan.
    """
    import keras

    config = config or DQNConfig()
    keras.utils.set_random_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    env = _Environment(candidates, budgets, space)
    online = _network(env.width, space.actions, config)
    target = _network(env.width, space.actions, config)
    _sync(online, target)
    memory: deque = deque(maxlen=config.memory)
    steps = 0
    for episode in range(config.episodes):
        epsilon = max(config.epsilon_min, 1.0 - episode / (0.7 * config.episodes))
        choices: list[int] = []
        for step in range(len(space.slots)):
            state = env.state(step, choices)
            action = _act(online, state, env.valid(step), epsilon, rng)
            choices.append(action)
            r1, r2 = env.reward(choices)
            done = step == len(space.slots) - 1
            memory.append((state, action, r1, r2, env.state(step + 1, choices), done, step))
            steps += 1
            if steps % config.train_every == 0:
                _learn(online, target, memory, env, config, rng)
            if steps % config.target_every == 0:
                _sync(online, target)
    choices = []
    for step in range(len(space.slots)):
        choices.append(_act(online, env.state(step, choices), env.valid(step), 0.0, rng))
    pick = space.plan_text(choices)
    env.reward(choices)
    q_values = _q(online, env.state(0, []))
    scores = [score(c, budgets, env.scale) for c in env.seen.values()]
    details = {"q_values": q_values.tolist(), "policy": pick, "missing": list(env.missing)}
    reasons = missing_plans(list(env.missing), "dqn") + missing_figures(list(candidates))
    return build_outcome("dqn", scores, len(env.seen), pick, details, reasons)


def _q(model, states: np.ndarray) -> np.ndarray:  # noqa: ANN001
    """Q = G + H (eq. 7) for one state or a batch."""
    g, h = _streams(model, np.atleast_2d(states))
    q = g + h
    return q[0] if states.ndim == 1 else q


def _streams(model, states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """G and H through the network's weights in NumPy.

    The net is four small dense layers; an eager Keras call costs tens of
    milliseconds on a loaded CPU, this a few microseconds, with the same result.
    """
    cache = getattr(model, "_numpy_weights", None)
    if cache is None:
        cache = {layer.name: layer.get_weights() for layer in model.layers if layer.weights}
        model._numpy_weights = cache

    def dense(x: np.ndarray, name: str, relu: bool) -> np.ndarray:
        kernel, bias = cache[name]
        y = x @ kernel + bias
        return np.maximum(y, 0) if relu else y

    shared = dense(states.astype("float32"), "shared", True)
    g = dense(dense(shared, "g_hidden", True), "G", False)
    h = dense(dense(shared, "h_hidden", True), "H", False)
    return g, h


def _sync(source, destination) -> None:  # noqa: ANN001
    """Copy weights (the target network's reset) and drop the NumPy cache."""
    destination.set_weights(source.get_weights())
    destination._numpy_weights = None


def _act(model, state, valid, epsilon, rng) -> int:  # noqa: ANN001
    """Epsilon-greedy over the valid actions."""
    allowed = np.flatnonzero(valid)
    if rng.random() < epsilon:
        return int(rng.choice(allowed))
    q = _q(model, state)
    return int(allowed[np.argmax(q[allowed])])


def _learn(online, target, memory, env, config, rng) -> None:  # noqa: ANN001
    """One replay mini-batch step on eq. 9 with eq. 10's double-DQN targets."""
    if len(memory) < config.batch_size:
        return
    batch = [memory[i] for i in rng.choice(len(memory), config.batch_size, replace=False)]
    states = np.stack([b[0] for b in batch])
    nexts = np.stack([b[4] for b in batch])
    g, h = (x.copy() for x in _streams(online, states))
    g_next, h_next = _streams(target, nexts)
    q_next = _q(online, nexts)
    for row, (_, action, r1, r2, _, done, step) in enumerate(batch):
        g[row, action], h[row, action] = r1, r2
        if not done:
            valid = env.valid(step + 1)
            best = int(np.flatnonzero(valid)[np.argmax(q_next[row][valid])])
            g[row, action] += config.gamma * g_next[row, best]
            h[row, action] += config.gamma * h_next[row, best]
    online.train_on_batch(states, [g, h])
    online._numpy_weights = None
