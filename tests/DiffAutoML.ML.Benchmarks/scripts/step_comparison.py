"""PyTorch twin of the TorchSharp `step-compare` benchmark (StepComparisonBenchmark.cs).

Builds the same supernet as src/DiffAutoML.ML/Search (ShuffleNetV2 choice blocks k3/k5/k7/Xception, a projection shared by
the candidates of each stride-2 layer) and times the same joint search step: sample a path from softmax(alpha) on the
host, forward on the training batch recording each block's output, label-smoothed cross-entropy, backward, alpha's DSNAS
step (Adam on g_l * (onehot - p)), SGD with momentum and weight decay on the weights (torch.optim.SGD, as a PyTorch
developer would write it), and the weight-decay hypergradient step on a validation batch of a quarter of the batch.
Inputs are fixed random tensors on the device. Prints one JSON line; the supernet's parameter count must equal the
TorchSharp side's (a check that the two networks are the same).

usage: python3 step_comparison.py compact|paper BATCH STEPS [cuda|cpu]
"""
import json
import math
import random
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def conv_sequence(specs, eps=1e-5):
    """specs: (in, out, kernel, stride, depthwise, relu); conv without bias, batch norm, optional ReLU."""
    layers = []
    for cin, cout, k, s, depthwise, relu in specs:
        layers.append(nn.Conv2d(cin, cout, k, stride=s, padding=k // 2, groups=cin if depthwise else 1, bias=False))
        layers.append(nn.BatchNorm2d(cout, eps=eps))
        if relu:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def block_plan(choice, cin, cout, stride):
    """Main-branch convolutions of a choice block (BlockPlan.Create): choice 0..2 = ShuffleNetV2 k3/k5/k7, 3 = Xception."""
    branch_in = cin // 2 if stride == 1 else cin
    outputs = cout - branch_in
    mid = cout // 2
    if choice == 3:
        return [(branch_in, branch_in, 3, stride, True, False), (branch_in, mid, 1, 1, False, True),
                (mid, mid, 3, 1, True, False), (mid, mid, 1, 1, False, True),
                (mid, mid, 3, 1, True, False), (mid, outputs, 1, 1, False, True)]
    k = (3, 5, 7)[choice]
    return [(branch_in, mid, 1, 1, False, True), (mid, mid, k, stride, True, False), (mid, outputs, 1, 1, False, True)]


class ChoiceBlock(nn.Module):
    def __init__(self, choice, cin, cout, stride):
        super().__init__()
        self.stride = stride
        self.main = conv_sequence(block_plan(choice, cin, cout, stride))

    def forward(self, x):
        if self.stride == 2:
            return self.main(x)  # the projection is shared, applied by the supernet
        b, c, h, w = x.shape
        pairs = x.view(b, c // 2, 2, h, w)
        return torch.cat([pairs[:, :, 0], self.main(pairs[:, :, 1])], 1)


class Supernet(nn.Module):
    def __init__(self, in_channels, size, classes, stem, stem_stride, repeats, channels, tail, dropout=0.1):
        super().__init__()
        self.stem = conv_sequence([(in_channels, stem, 3, stem_stride, False, True)])
        self.layers = nn.ModuleList()
        self.projections = nn.ModuleDict()
        cin = stem
        for s, r in enumerate(repeats):
            for i in range(r):
                stride = 2 if i == 0 else 1
                index = len(self.layers)
                self.layers.append(nn.ModuleList([ChoiceBlock(c, cin, channels[s], stride) for c in range(4)]))
                if stride == 2:
                    self.projections[str(index)] = conv_sequence([(cin, cin, 3, 2, True, False), (cin, cin, 1, 1, False, True)])
                cin = channels[s]
        self.tail = conv_sequence([(cin, tail, 1, 1, False, True)])
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(tail, classes)
        self.path = None
        self.recorded = []

    def forward(self, x):
        x = self.stem(x)
        self.recorded = []
        for l, candidates in enumerate(self.layers):
            block = candidates[self.path[l]]
            key = str(l)
            y = torch.cat([self.projections[key](x), block(x)], 1) if key in self.projections else block(x)
            if y.requires_grad:
                y.retain_grad()
                self.recorded.append(y)
            x = y
        x = self.tail(x).mean((2, 3))
        return self.classifier(self.dropout(x))

    def gate_gradients(self):
        result = torch.stack([y.detach().flatten().dot(y.grad.flatten()) for y in self.recorded])
        self.recorded = []
        return result


PRESETS = {
    # in_channels, size, classes, stem, stem_stride, repeats, channels, tail (SearchSpaceOptions.Resolve)
    "compact": (3, 32, 10, 16, 1, [2, 2, 4, 2], [32, 64, 128, 256], 512),
    "paper": (3, 224, 1000, 16, 2, [4, 4, 8, 4], [64, 160, 320, 640], 1024),
}


def main():
    preset = sys.argv[1] if len(sys.argv) > 1 else "compact"
    batch = int(sys.argv[2]) if len(sys.argv) > 2 else 128
    steps = int(sys.argv[3]) if len(sys.argv) > 3 else 50
    device = torch.device(sys.argv[4] if len(sys.argv) > 4 else "cuda")
    torch.manual_seed(1)
    rng = random.Random(1)
    in_channels, size, classes, stem, stem_stride, repeats, channels, tail = PRESETS[preset]
    net = Supernet(in_channels, size, classes, stem, stem_stride, repeats, channels, tail).to(device)
    layers = len(net.layers)
    alpha = torch.zeros(layers, 4, device=device, requires_grad=True)
    alpha_optimizer = torch.optim.Adam([alpha], lr=0.02, betas=(0.5, 0.999))
    decayed = [p for p in net.parameters() if p.dim() >= 2]
    others = [p for p in net.parameters() if p.dim() < 2]
    lr, momentum = 0.1, 0.9
    log_decay = math.log(4e-5)
    adam = {"m": 0.0, "v": 0.0, "t": 0}
    sgd = torch.optim.SGD([{"params": decayed, "weight_decay": math.exp(log_decay)}, {"params": others, "weight_decay": 0.0}],
                          lr=lr, momentum=momentum)
    x = (torch.rand(batch, in_channels, size, size, device=device) * 255).floor_()
    y = torch.randint(0, classes, (batch,), device=device)
    vb = max(1, batch // 4)
    xv = torch.randn(vb, in_channels, size, size, device=device)
    yv = torch.randint(0, classes, (vb,), device=device)

    def sample_path():
        probabilities = torch.softmax(alpha.detach(), 1).double().cpu().tolist()  # one host read, as the library's
        path = []
        for row in probabilities:
            u, cumulative, c = rng.random(), 0.0, 0
            while c < 3:
                cumulative += row[c]
                if u < cumulative:
                    break
                c += 1
            path.append(c)
        return path

    def step():
        nonlocal log_decay
        path = sample_path()
        net.path = path
        net.train()
        net.zero_grad(set_to_none=True)
        inputs = (x / 255 - 0.5) / 0.25
        per_sample = F.cross_entropy(net(inputs), y, reduction="none", label_smoothing=0.1)
        per_sample.mean().backward()
        # alpha: the DSNAS estimator dL/dZ_l * (onehot - p), eq. 5
        gates = net.gate_gradients()
        with torch.no_grad():
            p = torch.softmax(alpha, 1)
            index = torch.tensor(path, device=device).view(-1, 1)
            one_hot = torch.zeros_like(p).scatter_(1, index, 1.0)
            alpha.grad = gates.view(-1, 1) * (one_hot - p)
        alpha_optimizer.step()
        # weights: SGD with momentum, weight decay on conv and linear weights
        sgd.step()
        # hypergradient of the weight decay on a validation batch, eq. 7 (velocities are SGD's momentum buffers)
        net.zero_grad(set_to_none=True)
        F.cross_entropy(net(xv), yv).backward()
        with torch.no_grad():
            params = [q for q in decayed if q.grad is not None] + [q for q in others if q.grad is not None]
            n_decayed = sum(q.numel() for q in decayed if q.grad is not None)
            g = torch.cat([q.grad.reshape(-1) for q in params]).double()
            v = torch.cat([sgd.state[q]["momentum_buffer"].reshape(-1) for q in params]).double()
            theta = torch.cat([q.detach().reshape(-1) for q in decayed if q.grad is not None]).double()
            gd = g[:n_decayed]
            g_theta = gd.dot(theta) + lr * gd.dot(v[:n_decayed])
            d_decay = -lr * torch.stack([g_theta, g.dot(v)]).cpu().tolist()[0]  # one host read
        if math.isfinite(d_decay):
            decay = math.exp(log_decay)
            gradient = d_decay * decay
            adam["t"] += 1
            adam["m"] = 0.9 * adam["m"] + 0.1 * gradient
            adam["v"] = 0.999 * adam["v"] + 0.001 * gradient * gradient
            m_hat = adam["m"] / (1 - 0.9 ** adam["t"])
            v_hat = adam["v"] / (1 - 0.999 ** adam["t"])
            log_decay -= 1e-3 * m_hat / (math.sqrt(v_hat) + 1e-8)
            log_decay = min(max(log_decay, math.log(1e-7)), math.log(1e-1))
            sgd.param_groups[0]["weight_decay"] = math.exp(log_decay)
        net.zero_grad(set_to_none=True)

    for _ in range(10):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    ms = (time.perf_counter() - start) * 1000 / steps
    result = {"framework": "PyTorch " + torch.__version__, "preset": preset, "augment": False, "size": size, "batch": batch,
              "device": str(device), "steps": steps, "ms_per_step": round(ms, 3), "images_per_s": round(batch * 1000 / ms, 1),
              "supernet_parameters": sum(q.numel() for q in net.parameters())}
    if device.type == "cuda":
        result["max_memory_allocated_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
        result["max_memory_reserved_mib"] = round(torch.cuda.max_memory_reserved() / 2**20, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
