"""`rfactory train-sft`: verified traces → a fine-tuned model, on TRL."""
