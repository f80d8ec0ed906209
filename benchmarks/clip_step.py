"""Time one CLIP training step: minivlm.clip.CLIP against Hugging Face's CLIPModel.

A step is forward, the symmetric InfoNCE loss, backward and an AdamW update, on the book's
tiny CLIP (32 x 32 images in 8 x 8 patches, width 64, two blocks per tower) with a batch of
64 image-caption pairs whose captions are padded to the context length. Both models hold
the same weights (ours is copied from Hugging Face's with CLIP.from_hf) and see the same
batch; the two are timed in turn, repeat after repeat, so that a change in the machine's load
hits both alike. Prints the median step times and their ratio.

    python benchmarks/clip_step.py [--repeats 50] [--batch 64] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import transformers

from minivlm.clip import CLIP, CLIPConfig, clip_loss


def hf_model(config: CLIPConfig) -> transformers.CLIPModel:
    v, t = config.vision, config.text
    tower = dict(hidden_act="quick_gelu", layer_norm_eps=1e-5, attention_dropout=0.0)
    hf_config = transformers.CLIPConfig(
        vision_config=dict(
            image_size=v.image_size,
            patch_size=v.patch_size,
            hidden_size=v.width,
            intermediate_size=v.mlp_dim,
            num_hidden_layers=v.depth,
            num_attention_heads=v.n_heads,
            **tower,
        ),
        # eos_token_id 2: Hugging Face then pools at the largest id, the rule of our preset
        text_config=dict(
            vocab_size=t.vocab_size,
            max_position_embeddings=t.context_length,
            hidden_size=t.width,
            intermediate_size=t.mlp_dim,
            num_hidden_layers=t.depth,
            num_attention_heads=t.n_heads,
            bos_token_id=0,
            pad_token_id=1,
            eos_token_id=2,
            **tower,
        ),
        projection_dim=config.embed_dim,
    )
    return transformers.CLIPModel(hf_config)


def batch(config: CLIPConfig, B: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    T, V = config.text.context_length, config.text.vocab_size
    pixel_values = torch.randn(
        B, 3, config.vision.image_size, config.vision.image_size, generator=g
    )
    lengths = torch.randint(4, T + 1, (B,), generator=g)  # caption lengths, end-of-text included
    input_ids = torch.randint(3, V - 1, (B, T), generator=g)
    input_ids[torch.arange(B), lengths - 1] = V - 1  # end-of-text: the largest id
    attention_mask = (
        torch.arange(T)[None] < lengths[:, None]
    ).long()  # (B, T): 1 up to the end-of-text
    input_ids = input_ids.masked_fill(attention_mask == 0, 0)  # padding
    return pixel_values, input_ids, attention_mask


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch.set_num_threads; default: PyTorch's",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    config = CLIPConfig.tiny()
    hf = hf_model(config).train()
    ours = CLIP.from_hf(hf).train()
    if ours.config != config:
        raise RuntimeError(
            f"the Hugging Face model does not match the preset:\n{ours.config}\n{config}"
        )
    pixel_values, input_ids, attention_mask = batch(config, args.batch)
    opt_ours = torch.optim.AdamW(ours.parameters(), lr=1e-4)
    opt_hf = torch.optim.AdamW(hf.parameters(), lr=1e-4)

    def step_ours() -> float:
        image_features = ours.encode_image(pixel_values)
        text_features = ours.encode_text(input_ids, attention_mask)
        loss = clip_loss(image_features, text_features, ours.logit_scale.exp())
        loss.backward()
        opt_ours.step()
        opt_ours.zero_grad(set_to_none=True)
        ours.clamp_logit_scale_()
        return loss.item()

    def step_hf() -> float:
        loss = hf(
            input_ids=input_ids,
            pixel_values=pixel_values,
            attention_mask=attention_mask,
            return_loss=True,
        ).loss
        loss.backward()
        opt_hf.step()
        opt_hf.zero_grad(set_to_none=True)
        return loss.item()

    first_ours, first_hf = step_ours(), step_hf()
    print(f"first-step loss: ours {first_ours:.6f}, Hugging Face {first_hf:.6f}")
    for _ in range(args.warmup):
        step_ours(), step_hf()
    times = {"ours": [], "hf": []}
    steps = [("ours", step_ours), ("hf", step_hf)]
    for _ in range(args.repeats):
        for name, step in steps:
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
        # alternate which model goes first, so that neither always runs on a warmer cache
        steps.reverse()
    med = {name: statistics.median(t) for name, t in times.items()}
    paired = statistics.median(o / h for o, h in zip(times["ours"], times["hf"], strict=True))
    print(
        f"torch {torch.__version__}, transformers {transformers.__version__}, "
        f"{torch.get_num_threads()} threads, "
        f"batch {args.batch}, {args.repeats} repeats"
    )
    print(f"median step: minivlm {med['ours'] * 1e3:.2f} ms, Hugging Face {med['hf'] * 1e3:.2f} ms")
    ratio = med["ours"] / med["hf"]
    print(f"ratio ours / HF: {ratio:.3f} (median of the per-repeat ratios: {paired:.3f})")


if __name__ == "__main__":
    main()
