"""policy_loss and group_advantages against values worked out by hand."""

import math

import pytest
import torch

from verifiers.grpo.loss import group_advantages, k3, policy_loss


def one_token(ratios, advantages, **kw):
    """B sequences of one token with the given ratios pi/pi_old and advantages."""
    old = torch.zeros(len(ratios), 1)
    logp = torch.log(torch.tensor(ratios, dtype=torch.float32)).unsqueeze(-1).requires_grad_(True)
    loss, stats = policy_loss(logp, old, None, torch.tensor(advantages), torch.ones(len(ratios), 1),
                              return_stats=True, **kw)
    loss.backward()
    return loss, stats, logp.grad.squeeze(-1)


def test_clipping_on_both_sides():
    # r=1.5,A=+1 -> clipped to 1.2: -1.2 | r=0.5,A=-1 -> clipped to 0.8: +0.8
    # r=1.5,A=-1 -> pessimistic unclipped: +1.5 | r=0.5,A=+1 -> unclipped: -0.5
    loss, stats, grad = one_token([1.5, 0.5, 1.5, 0.5], [1.0, -1.0, -1.0, 1.0])
    assert loss.item() == pytest.approx((-1.2 + 0.8 + 1.5 - 0.5) / 4, abs=1e-6)
    assert stats["clip_high"] == pytest.approx(0.25) and stats["clip_low"] == pytest.approx(0.25)
    # clipped tokens carry no gradient; d(-r*A)/dlogp = -r*A, over the batch mean of 4
    assert grad.tolist() == pytest.approx([0.0, 0.0, 1.5 / 4, -0.5 / 4], abs=1e-6)


def test_clip_higher_uses_its_own_upper_bound():
    loss, stats, _ = one_token([1.5], [1.0], eps_low=0.2, eps_high=0.28)
    assert loss.item() == pytest.approx(-1.28, abs=1e-6)
    loss, _, _ = one_token([0.5], [-1.0], eps_low=0.1, eps_high=0.28)
    assert loss.item() == pytest.approx(0.9, abs=1e-6)


def test_k3_penalty():
    # pi = 0.5, pi_ref = 0.25: k3 = 0.25/0.5 - log(0.25/0.5) - 1 = 0.5 + ln 2 - 1
    logp = torch.full((1, 1), math.log(0.5))
    ref = torch.full((1, 1), math.log(0.25))
    expected = 0.5 + math.log(2) - 1
    assert k3(logp, ref).item() == pytest.approx(expected, abs=1e-6)
    loss, stats = policy_loss(logp, logp, ref, torch.zeros(1), torch.ones(1, 1), beta=0.1, return_stats=True)
    assert loss.item() == pytest.approx(0.1 * expected, abs=1e-6)
    assert stats["kl"] == pytest.approx(expected, abs=1e-6)
    assert k3(ref, ref).item() == 0.0
    with pytest.raises(ValueError, match="ref_logp"):
        policy_loss(logp, logp, None, torch.zeros(1), torch.ones(1, 1), beta=0.1)


def aggregated(agg, **kw):
    # ratio 1 and no KL: the per-token loss is -A. Sequence 1 has tokens A=1,2,3; sequence 2 one token A=4.
    logp = torch.zeros(2, 3)
    adv = torch.tensor([[1.0, 2.0, 3.0], [4.0, 99.0, 99.0]])
    mask = torch.tensor([[1, 1, 1], [1, 0, 0]])
    return policy_loss(logp, logp, None, adv, mask, agg=agg, **kw).item()


def test_each_aggregation():
    assert aggregated("seq_mean") == pytest.approx(-(2.0 + 4.0) / 2)
    assert aggregated("token_mean") == pytest.approx(-(1 + 2 + 3 + 4) / 4)
    assert aggregated("constant", max_len=5) == pytest.approx(-10 / (2 * 5))
    assert aggregated("constant") == pytest.approx(-10 / (2 * 3))
    with pytest.raises(ValueError, match="agg"):
        aggregated("mean")


def test_sequence_ratio_is_gspo():
    old = torch.zeros(2, 3)
    logp = torch.tensor([[0.3, -0.1, 0.0], [0.6, 0.4, 5.0]], requires_grad=True)
    mask = torch.tensor([[1, 1, 0], [1, 1, 0]])
    adv = torch.tensor([1.0, 1.0])
    loss = policy_loss(logp, old, None, adv, mask, ratio="sequence")
    s1 = math.exp(0.1)  # exp(mean log-ratio); sequence 2's exp(0.5) = 1.65 is clipped to 1.2
    assert loss.item() == pytest.approx((-s1 - 1.2) / 2, abs=1e-6)
    loss.backward()
    # d/dlogp of -s1/2 for each of sequence 1's two tokens: -s1/2 * 1/2; sequence 2 clipped: 0; padding: 0
    assert logp.grad.tolist() == [pytest.approx([-s1 / 4, -s1 / 4, 0.0], abs=1e-6), [0.0, 0.0, 0.0]]
    token = policy_loss(logp.detach(), old, None, adv, mask, ratio="token")
    assert token.item() == pytest.approx(-((1.2 + math.exp(-0.1)) / 2 + 1.2) / 2, abs=1e-6)  # e^0.3 clips
    with pytest.raises(ValueError, match="ratio"):
        policy_loss(logp, old, None, adv, mask, ratio="seq")


def test_padding_never_counts():
    old = torch.zeros(1, 3)
    logp = torch.tensor([[0.0, 50.0, float("-inf")]])
    loss = policy_loss(logp, old, None, torch.tensor([1.0]), torch.tensor([[1, 0, 0]]), agg="token_mean")
    assert loss.item() == pytest.approx(-1.0)


def test_shape_mismatch_is_named():
    with pytest.raises(ValueError, match="same"):
        policy_loss(torch.zeros(2, 3), torch.zeros(2, 2), None, torch.zeros(2), torch.ones(2, 3))


def test_equal_rewards_give_zero_advantages():
    adv = group_advantages(torch.tensor([1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0]), 4)
    assert not torch.isnan(adv).any()
    assert adv[:4].tolist() == [0.0, 0.0, 0.0, 0.0]
    # group 2: mean 0.5, population std 0.5
    assert adv[4:].tolist() == pytest.approx([-0.5 / 0.5001, 0.5 / 0.5001, -0.5 / 0.5001, 0.5 / 0.5001], abs=1e-5)
    assert group_advantages(torch.zeros(3), 1).tolist() == [0.0, 0.0, 0.0]


def test_scale_rewards_none_and_batch():
    rewards = torch.tensor([0.0, 2.0, 1.0, 1.0])
    assert group_advantages(rewards, 2, scale="none").tolist() == [-1.0, 1.0, 0.0, 0.0]
    # batch std of [0,2,1,1] = sqrt(0.5)
    expected = [-1 / (0.5**0.5 + 1e-4), 1 / (0.5**0.5 + 1e-4), 0.0, 0.0]
    assert group_advantages(rewards, 2, scale="batch").tolist() == pytest.approx(expected, abs=1e-5)
    with pytest.raises(ValueError, match="groups of 3"):
        group_advantages(rewards, 3)
    with pytest.raises(ValueError, match="scale"):
        group_advantages(rewards, 2, scale="std")


def test_unscored_rewards_sit_out_their_group():
    adv = group_advantages(torch.tensor([float("nan"), 1.0, 0.0, 1.0]), 4, scale="none")
    assert adv.tolist() == pytest.approx([0.0, 1 / 3, -2 / 3, 1 / 3], abs=1e-6)
    assert group_advantages(torch.full((4,), float("nan")), 4).tolist() == [0.0] * 4
