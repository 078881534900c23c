"""The supply-chain plug-in: custody of drug batches and packs (declared in `plugin`)."""
