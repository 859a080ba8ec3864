"""The ways in from other people's trainers: thin signature shims onto CompositeReward.

    verifiers.integrations.trl       trl_reward, trl_rewards       (TRL GRPOTrainer reward_funcs)
    verifiers.integrations.verl      compute_score                 (verl custom_reward_function)
    verifiers/integrations/openrlhf.py  reward_func                (OpenRLHF --reward.remote_url FILE.py)

Each holds its reward as a `LazyReward` (lazy.py): built once per process on first use, pickled as
its config, so it crosses spawn, Ray and multiprocessing boundaries.
"""
