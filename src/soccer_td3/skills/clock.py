"""The walking skill's clock, apart from its weights: a config checks a decision period
against it without loading torch (`soccer-td3 --help` and a bad flag answer in under a second)."""

PHYSICS_DT = 0.002  # sai_mujoco's env step
SKILL_EVERY = 10  # physics steps per skill decision: 50 Hz, as it was trained
