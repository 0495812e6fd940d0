"""A tiny PyTorch DDP training run that uses the variables Aicc sets (RANK, WORLD_SIZE, MASTER_ADDR, ...).

Runs when PyTorch is installed; without it, it says so and exits 3 so the job is marked failed.
"""
import os
import sys

try:
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel
except ImportError:
    print("PyTorch is not installed: pip install torch", file=sys.stderr)
    sys.exit(3)


def main() -> None:
    use_cuda = torch.cuda.is_available()
    dist.init_process_group("nccl" if use_cuda else "gloo")  # reads MASTER_ADDR/PORT, RANK, WORLD_SIZE
    rank, world = dist.get_rank(), dist.get_world_size()
    device = torch.device("cuda", 0) if use_cuda else torch.device("cpu")  # CUDA_VISIBLE_DEVICES maps our device to 0
    torch.manual_seed(1234 + rank)
    model = DistributedDataParallel(torch.nn.Linear(16, 1).to(device), device_ids=[0] if use_cuda else None)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    target = torch.nn.Linear(16, 1).to(device)
    for step in range(200):
        x = torch.randn(64, 16, device=device)
        loss = torch.nn.functional.mse_loss(model(x), target(x).detach())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 50 == 0 and rank == 0:
            print(f"step {step} loss {loss.item():.4f} world {world}", flush=True)
    if rank == 0:
        print(f"done: final loss {loss.item():.4f}")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
