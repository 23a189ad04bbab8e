"""The seed's script name, kept so its commands work as written; it is `soccer-td3 train`.

    python training_scripts/train_td3_rl.py --env LowerT1GoaliePenaltyKick-v0 \
        --timesteps 5000000 --device cuda --use_wandb --save_dir ./exp_td3_rl_deep
"""

import sys

from soccer_td3.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
