"""The peer's training step (HF transformers, PyTorch), importable without TensorFlow."""


def hf_train_step(model, optimizer, autocast_dtype=None):
  """One HF training step on a (ids, mask, type ids, labels) batch of torch tensors:
  forward (under autocast to `autocast_dtype`, if given), backward, clip to global norm 1.0,
  the optimizer's step."""
  import contextlib  # noqa
  import torch  # noqa

  def step(b):
    context = (torch.autocast(b[0].device.type, dtype=autocast_dtype) if autocast_dtype
               else contextlib.nullcontext())
    with context:
      out = model(input_ids=b[0], attention_mask=b[1], token_type_ids=b[2], labels=b[3])
    out.loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    optimizer.zero_grad()
  return step
