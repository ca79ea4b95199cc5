"""Notebook 11's three ways to teach the model a new animal, on a tiny untrained pipeline: each by-hand part
equals the library's, each file round-trips through the diffusers loader, and bad files fail clearly."""
import pytest
import torch
import torch.nn.functional as F

from course_utils import personalise as P
from course_utils.checkpoints import CheckpointError
from course_utils.pipelines import StorybookPipeline, prompt_vocabulary
from course_utils.seeding import make_generator
from course_utils.text_to_image import TextToImageModel, encode_text, latent_diffusion_prediction, tokenize, \
    untrained_pipeline
from course_utils.training import Objective, TrainConfig, train
from sd_tiny import TINY_SD, TINY_VAE

SCENES = [("fishing", "by a river"), ("reading", "in a forest")]


def fresh_pipe(seed: int = 0):
    pipe = untrained_pipeline(TINY_SD, TINY_VAE, seed=seed, pipeline_class=StorybookPipeline)
    pipe.vocabulary = prompt_vocabulary(pipe.tokenizer)
    return pipe


def photos(pipe, word):
    images = torch.rand(2, 3, 32, 32, generator=make_generator(1)) * 2 - 1
    return P.photo_cache(pipe, images, P.photo_captions(word, SCENES))


def draw(pipe, prompt, **kw):
    return pipe(prompt, generator=make_generator(3), num_inference_steps=2, height=32, width=32, output_type="pt",
                **kw).images


def frozen(pipe):
    for p in list(pipe.unet.parameters()) + list(pipe.text_encoder.parameters()):
        p.requires_grad_(False)
    return TextToImageModel(pipe.text_encoder, pipe.unet, pipe.scheduler.alphas_cumprod)


def test_one_lora_layer_equals_peft():
    from peft import LoraConfig, inject_adapter_in_model
    net = torch.nn.Sequential(torch.nn.Linear(6, 5))
    net = inject_adapter_in_model(LoraConfig(r=2, lora_alpha=3, target_modules=["0"]), net)
    layer = net[0]
    with torch.no_grad():
        layer.lora_B["default"].weight.normal_(generator=make_generator(0))
    x = torch.randn(4, 6, generator=make_generator(1))
    ours = P.lora_linear(x, layer.base_layer.weight, layer.base_layer.bias, layer.lora_A["default"].weight,
                         layer.lora_B["default"].weight, scale=3 / 2)
    torch.testing.assert_close(ours, net(x))
    wrong = P.lora_linear(x, layer.base_layer.weight, layer.base_layer.bias, layer.lora_A["default"].weight,
                          layer.lora_B["default"].weight, scale=1.0)
    assert not torch.allclose(wrong, net(x))


def test_add_lora_starts_equal_to_the_base_and_is_seeded():
    a, b = fresh_pipe(), fresh_pipe()
    P.allow_word(a, P.IDENTIFIER)
    before = draw(a, "sks fishing by a river")
    for pipe in (a, b):
        P.add_lora(pipe.unet, 2, generator=make_generator(5))
    assert torch.equal(draw(a, "sks fishing by a river"), before)          # B = 0: no change yet
    assert all(torch.equal(p, q) for p, q in zip(P.lora_parameters(a.unet), P.lora_parameters(b.unet)))
    assert sum(p.abs().sum() > 0 for p in P.lora_parameters(a.unet)) == len(P.lora_parameters(a.unet)) // 2


@pytest.mark.parametrize("rank", [0, -1, 2.0, True])
def test_a_rank_that_is_not_a_positive_whole_number_is_refused(rank):
    with pytest.raises(ValueError, match="rank must be a whole number ≥ 1"):
        P.add_lora(fresh_pipe().unet, rank, generator=make_generator(0))


def test_textual_inversion_moves_one_row_and_loads_into_diffusers(tmp_path):
    pipe = fresh_pipe()
    row = P.add_word(pipe, P.TI_TOKEN, init_from="squirrel")
    table = pipe.text_encoder.get_input_embeddings().weight
    model = frozen(pipe)
    table.requires_grad_(True)
    P.keep_only_row(table, row)
    before = table.detach().clone()
    train(model, [Objective("loss", P.personal_loss, [table])], P.photo_batches(photos(pipe, P.TI_TOKEN), 2),
          TrainConfig(steps=3, lr=1e-2), progress=False)
    moved = (table.detach() != before).any(dim=1).nonzero().flatten().tolist()
    assert moved == [row]
    path = P.save_textual_inversion(pipe, P.TI_TOKEN, tmp_path / "ti.safetensors")
    other = fresh_pipe()
    assert P.load_textual_inversion(other, path) == P.TI_TOKEN
    ids = tokenize(pipe.tokenizer, ["<hedgehog> sleeping in the snow"])
    with torch.no_grad():
        assert torch.equal(encode_text(pipe.text_encoder, ids), encode_text(other.text_encoder, ids))
    assert draw(other, "<hedgehog> sleeping in the snow").shape == (1, 3, 32, 32)
    with pytest.raises(ValueError, match="already exists.*fresh pipeline"):
        P.load_textual_inversion(other, path)
    with pytest.raises(ValueError, match="already exists"):
        P.load_textual_inversion(fresh_pipe(), path, token="squirrel")


def test_the_new_word_starts_from_the_chosen_word_or_the_mean_and_an_unknown_one_is_refused():
    pipe = fresh_pipe()
    table = pipe.text_encoder.get_input_embeddings().weight
    fox = table[pipe.tokenizer("fox", add_special_tokens=False).input_ids[0]].detach().clone()
    mean = table.detach().mean(dim=0)
    row = P.add_word(pipe, P.TI_TOKEN, init_from="fox")
    assert torch.equal(pipe.text_encoder.get_input_embeddings().weight[row], fox)
    other = fresh_pipe()
    row = P.add_word(other, P.TI_TOKEN, init_from=None)
    torch.testing.assert_close(other.text_encoder.get_input_embeddings().weight[row], mean)
    with pytest.raises(ValueError, match="never learned 'hedgehog'.*squirrel"):
        P.add_word(fresh_pipe(), P.TI_TOKEN, init_from="hedgehog")
    with pytest.raises(ValueError, match="init_word belongs to textual inversion"):
        P.Teaching("lora", steps=1, lr=1e-3, init_word="fox")


def test_a_word_the_model_knows_cannot_become_the_new_token():
    with pytest.raises(ValueError, match="already in this tokenizer's vocabulary"):
        P.add_word(fresh_pipe(), "squirrel")


def test_prior_preservation_loss_is_the_dreambooth_scripts_formula():
    pipe = fresh_pipe()
    model = frozen(pipe)
    cache = photos(pipe, P.IDENTIFIER)
    prior = P.photo_cache(pipe, torch.zeros(3, 3, 32, 32), ["fox reading in a forest"] * 3)
    batch = P.prior_batches(cache, prior, 2)(0, make_generator(0))
    assert batch["mean"].shape[0] == 4 and int(batch["n_photos"]) == 2
    loss, terms = P.prior_preservation_loss(model, batch, make_generator(9), prior_weight=0.5)
    # diffusers' train_dreambooth.py: chunk the prediction into instance and class halves
    pred, target = latent_diffusion_prediction(model, batch, make_generator(9), p_uncond=0.0)
    pred, pred_prior = torch.chunk(pred, 2, dim=0)
    target, target_prior = torch.chunk(target, 2, dim=0)
    expected = F.mse_loss(pred, target) + 0.5 * F.mse_loss(pred_prior, target_prior)
    torch.testing.assert_close(loss, expected)
    assert terms["photo"] != pytest.approx(terms["prior"])


def test_class_images_can_go_without_caption_but_photos_never_do():
    pipe = fresh_pipe()
    cache = photos(pipe, P.IDENTIFIER)
    prior = P.photo_cache(pipe, torch.zeros(3, 3, 32, 32), ["fox reading in a forest"] * 3)
    empty = prior["empty_ids"]
    rows = torch.cat([P.prior_batches(cache, prior, 4, p_empty=0.5)(s, make_generator(s))["ids"].view(2, 4, -1)
                      for s in range(20)], dim=1)                     # [photos | class images, 80, L]
    photo_empty, class_empty = ((half == empty).all(dim=-1).float().mean() for half in rows)
    assert photo_empty == 0 and 0.3 < class_empty < 0.7
    kept = P.prior_batches(cache, prior, 4)(0, make_generator(0))["ids"][4:]
    assert not (kept == empty).all(dim=-1).any()
    with pytest.raises(ValueError, match="prior_empty is a share.*needs prior_weight"):
        P.Teaching("lora", steps=1, lr=1e-3, prior_empty=0.5)
    with pytest.raises(ValueError, match="prior_empty is a share"):
        P.Teaching("dreambooth", steps=1, lr=1e-3, prior_weight=1.0, prior_empty=1.0)


def test_lora_round_trips_fuses_and_refuses_another_base(tmp_path):
    pipe = fresh_pipe()
    base = P.weights_digest(pipe.unet)
    P.allow_word(pipe, P.IDENTIFIER)
    P.add_lora(pipe.unet, 2, generator=make_generator(0))
    model = frozen(pipe)
    params = P.lora_parameters(pipe.unet)
    for p in params:
        p.requires_grad_(True)
    train(model, [Objective("loss", P.personal_loss, params)], P.photo_batches(photos(pipe, P.IDENTIFIER), 2),
          TrainConfig(steps=2, lr=1e-2), progress=False)
    assert P.weights_digest(pipe.unet) == base
    folder = P.save_lora(pipe, tmp_path / "lora", rank=2, base=base)
    prompt = "sks sleeping in the snow"
    trained = draw(pipe, prompt)
    other = fresh_pipe()
    assert P.load_lora(other, folder) == P.IDENTIFIER
    torch.testing.assert_close(draw(other, prompt), trained)
    plain = fresh_pipe()
    P.allow_word(plain, P.IDENTIFIER)
    torch.testing.assert_close(draw(other, prompt, cross_attention_kwargs={"scale": 0.0}), draw(plain, prompt))
    other.fuse_lora(lora_scale=1.0)
    torch.testing.assert_close(draw(other, prompt), trained, atol=1e-4, rtol=0)
    with pytest.raises(CheckpointError, match="another base model.*train personal-lora"):
        P.load_lora(fresh_pipe(seed=1), folder)


def test_dreambooth_round_trips_and_refuses_another_text_encoder(tmp_path):
    pipe = fresh_pipe()
    folder = P.save_dreambooth(pipe.unet, tmp_path / "db", base=P.weights_digest(pipe.text_encoder), prior_weight=1.0)
    other = fresh_pipe(seed=2)
    with pytest.raises(CheckpointError, match="another base model.*personal-dreambooth"):
        P.load_dreambooth(other, folder)
    plain = fresh_pipe()
    assert P.load_dreambooth(plain, folder) == P.IDENTIFIER
    P.allow_word(pipe, P.IDENTIFIER)
    torch.testing.assert_close(draw(plain, "sks reading on a beach"), draw(pipe, "sks reading on a beach"))


def test_missing_adapters_name_the_rebuild_command(tmp_path):
    with pytest.raises(CheckpointError, match="train personal-lora"):
        P.load_lora(fresh_pipe(), tmp_path / "nothing")
    with pytest.raises(CheckpointError, match="train personal-ti"):
        P.load_textual_inversion(fresh_pipe(), tmp_path / "nothing.safetensors")


@pytest.mark.parametrize("name", ["personal-ti", "personal-lora"])
def test_the_adapter_recipes_save_what_the_loaders_read(name, tmp_path):
    from course_utils.pipelines import load_text_to_image
    from course_utils.recipes import personal
    builds = {"personal-ti": personal.build_ti, "personal-lora": personal.build_lora}
    record = builds[name](tmp_path / name, run_dir=tmp_path / "run", steps=2)
    assert record["steps"] == 2 and record["weights_bytes"] == (tmp_path / name / personal.WEIGHTS[name]).stat().st_size
    pipe = load_text_to_image()
    load = P.load_textual_inversion if name == "personal-ti" else P.load_lora
    word = load(pipe, tmp_path / name)
    assert word in pipe.vocabulary
    assert pipe(f"{word} sleeping in the snow", generator=make_generator(0), num_inference_steps=2,
                output_type="pt").images.shape == (1, 3, 128, 128)


def test_shipped_adapters_load_into_the_shipped_model():
    from course_utils.paths import data_path
    from course_utils.pipelines import load_text_to_image
    for folder, load in (("personal-ti", P.load_textual_inversion), ("personal-lora", P.load_lora),
                         ("personal-dreambooth", P.load_dreambooth), ("personal-dreambooth-no-prior", P.load_dreambooth)):
        pipe = load_text_to_image()
        assert load(pipe, data_path(folder)) in (P.TI_TOKEN, P.IDENTIFIER)
    unet = (data_path("storybook-sd") / "unet" / "diffusion_pytorch_model.safetensors").stat().st_size
    assert (data_path("personal-lora") / "pytorch_lora_weights.safetensors").stat().st_size <= unet / 20


def test_a_textual_inversion_folder_for_another_text_encoder_is_refused(tmp_path):
    pipe = fresh_pipe()
    base = P.weights_digest(pipe.text_encoder)
    P.add_word(pipe, P.TI_TOKEN)
    folder = tmp_path / "ti"
    P.save_textual_inversion(pipe, P.TI_TOKEN, folder / "learned_embeds.safetensors")
    P.write_info(folder, {"method": "textual_inversion", "word": P.TI_TOKEN, "base": base})
    assert P.load_textual_inversion(fresh_pipe(), folder) == P.TI_TOKEN
    with pytest.raises(CheckpointError, match="another base model.*personal-ti"):
        P.load_textual_inversion(fresh_pipe(seed=3), folder)


def test_textual_inversion_with_several_vectors_trains_exactly_those_rows():
    from course_utils.pipelines import load_text_to_image
    pipe = load_text_to_image(device="cpu")
    start = pipe.text_encoder.get_input_embeddings().weight.detach().clone()
    P.teach(pipe, P.Teaching("textual_inversion", steps=2, lr=5e-3, vectors=3), progress=False)
    word = P.ti_word(3)
    assert word == "<hedgehog> <hedgehog>_1 <hedgehog>_2"
    table = pipe.text_encoder.get_input_embeddings().weight.detach()
    rows = [pipe.tokenizer.convert_tokens_to_ids(t) for t in word.split()]
    assert rows == list(range(len(start), len(start) + 3))                  # three new rows, in order
    assert torch.equal(table[:len(start)], start)                            # every old word as it was
    squirrel = start[pipe.tokenizer.convert_tokens_to_ids("squirrel</w>")]
    assert all(not torch.equal(table[r], squirrel) for r in rows)            # none still sits at its start, "squirrel"
    image = pipe(f"{word} fishing in the snow", generator=make_generator(0), num_inference_steps=2, output_type="pt")
    assert image.images.shape == (1, 3, 128, 128)
    with pytest.raises(ValueError, match="above 1 only for textual inversion"):
        P.Teaching("lora", steps=1, lr=1e-3, vectors=2)
    with pytest.raises(ValueError, match="whole number ≥ 1"):
        P.Teaching("textual_inversion", steps=1, lr=1e-3, vectors=0)
