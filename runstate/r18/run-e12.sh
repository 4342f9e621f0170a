#!/bin/bash
# the queue's item d (scripts/issue18-queue.sh at a28a846+), started by hand in session 18 beside the queue's SNL 12.9K run
set -e
cd /work/main
res=(); ls /root/autorep-runs/r18/resnet18-cifar10-autorep12.9k-d2-e12.safetensors.ckpt.* >/dev/null 2>&1 && res=(--resume)
echo "$(date -u +%FT%TZ) resnet18-cifar10-autorep12.9k-d2-e12: start ${res[*]} (/root/autorep-runs/bin-autorep-3e76ec4)" >> /root/autorep-runs/r18/queue.log
/root/autorep-runs/bin-autorep-3e76ec4 reduce --data /root/autorep-data --dataset cifar10 --model models/resnet18-cifar10.safetensors --epochs 4 --finetune-epochs 1 --seed 1   --method autorep --budget 12.9k --degree 2 --score-lr 0.01 --epochs 10 --finetune-epochs 2 --out /root/autorep-runs/r18/resnet18-cifar10-autorep12.9k-d2-e12.safetensors "${res[@]}" --json > /root/autorep-runs/r18/resnet18-cifar10-autorep12.9k-d2-e12.json.part 2>> /root/autorep-runs/r18/resnet18-cifar10-autorep12.9k-d2-e12.log
mv /root/autorep-runs/r18/resnet18-cifar10-autorep12.9k-d2-e12.json.part /root/autorep-runs/r18/resnet18-cifar10-autorep12.9k-d2-e12.json
/root/autorep-runs/bin-autorep-3e76ec4 eval --data /root/autorep-data --dataset cifar10 --model /root/autorep-runs/r18/resnet18-cifar10-autorep12.9k-d2-e12.safetensors --json > /root/autorep-runs/r18/resnet18-cifar10-autorep12.9k-d2-e12.eval.json
/root/autorep-runs/bin-autorep-3e76ec4 relus --model /root/autorep-runs/r18/resnet18-cifar10-autorep12.9k-d2-e12.safetensors --json > /root/autorep-runs/r18/resnet18-cifar10-autorep12.9k-d2-e12.relus.json
echo "$(date -u +%FT%TZ) resnet18-cifar10-autorep12.9k-d2-e12: finished: $(cat /root/autorep-runs/r18/resnet18-cifar10-autorep12.9k-d2-e12.eval.json)" >> /root/autorep-runs/r18/queue.log
