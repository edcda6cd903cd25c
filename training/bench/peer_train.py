"""The PyTorch peer of Tessera's transformer training step, for `npm run bench:onnx -- --peer` (issue 28, part 7).

The same model as lib/model/transformer.ts (peer_generate.py's blocks, plus the text head), trained as
training/gpt/task.ts trains it: input [text; image codes but the last], loss (1·text + w·image)/(1 + w) over every
next-token target, global-norm clipping at 1 and AdamW (β 0.9/0.95, weight decay 0.01) — forward, backward and
optimizer step, on random data (speed does not depend on the values). One thread by default, as the quality anchor
measured (../../../shared/notes/quality-anchor.md). Prints one JSON line: tokens/s (sequence positions per second),
best of --reps windows of --steps steps.

Run with Debian's python3-torch: /usr/bin/python3 training/bench/peer_train.py --config '{"nLayer":4,...}' --batch 32
"""

import argparse
import json
import math
import time

import torch
import torch.nn.functional as F

from peer_generate import Transformer


class Trainable(Transformer):
    def __init__(self, c):
        super().__init__(c)
        self.text_head = torch.nn.Linear(c["nEmbd"], c["textVocab"] + c["textLen"])

    def loss(self, text, codes):
        c = self.c
        g = c["imageGrid"]
        n = g * g
        idx = torch.arange(n - 1)
        x = torch.cat(
            [
                self.text_emb(text) + self.text_pos(torch.arange(c["textLen"])),
                self.image_emb(codes[:, :-1]) + self.row_pos(idx // g) + self.col_pos(idx % g),
            ],
            dim=1,
        )  # [B, T + N - 1, e]
        for blk in self.blocks:
            x, _ = blk(x, None, True)
        h = self.ln_f(x)
        t = c["textLen"]
        text_loss = F.cross_entropy(self.text_head(h[:, : t - 1]).flatten(0, 1), text[:, 1:].flatten())
        image_loss = F.cross_entropy(self.image_head(h[:, t - 1 :]).flatten(0, 1), codes.flatten())
        w = c["imageLossWeight"]
        return (text_loss + w * image_loss) / (1 + w)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--config", required=True, help="the TransformerConfig as JSON")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    c = json.loads(a.config)
    model = Trainable(c).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95), weight_decay=0.01)
    n = c["imageGrid"] ** 2
    text = torch.randint(0, c["textVocab"], (a.batch, c["textLen"]))
    codes = torch.randint(0, c["imageVocab"], (a.batch, n))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = model.loss(text, codes)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    step()  # warm-up
    best = math.inf
    for _ in range(a.reps):
        t = time.perf_counter()
        for _ in range(a.steps):
            step()
        best = min(best, (time.perf_counter() - t) / a.steps)
    positions = c["textLen"] + n - 1
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "batch": a.batch, "tokensPerS": a.batch * positions / best}))


if __name__ == "__main__":
    main()
