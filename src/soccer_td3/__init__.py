"""soccer_td3: fast TD3 for the Booster T1 soccer tasks of sai_mujoco."""

__version__ = "0.1.0"
