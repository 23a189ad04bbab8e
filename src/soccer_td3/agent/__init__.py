"""The TD3 learner: networks, replay buffer, update. Imports nothing from envs/ or training/."""
