"""What every trainer rfactory drives shares (`train-sft`, `train-rl`): the model, LoRA, hardware,
checkpoint and push settings of a recipe, the multi-process launch, the output folder's claim and
resume, and loading the model to train."""
