"""`soccer-td3 tune`: an Optuna study over the TD3 recipe, on one machine or many.

space.py what is searched (and the YAML file that narrows it); storage.py the study's database
(heartbeats, retries, one line for a bad URL); objective.py one trial = one run folder;
worker.py how a worker shares a study with others; outputs.py best config, table and plots;
command.py the CLI flags that tie them together.
"""
