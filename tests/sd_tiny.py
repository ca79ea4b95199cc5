"""A tiny, untrained text-to-image pipeline shared by the guidance, text-to-image and pipeline tests."""
import pytest

from course_utils.sd_autoencoder import AutoencoderConfig
from course_utils.pipelines import StorybookPipeline, prompt_vocabulary
from course_utils.text_to_image import SDConfig, save_pipeline, untrained_pipeline

TINY_SD = SDConfig(text_hidden=32, text_layers=1, text_heads=2, text_intermediate=64, unet_channels=(16, 32),
                   unet_heads=2)
TINY_VAE = AutoencoderConfig(block_out_channels=(8, 16, 16), norm_num_groups=8)


@pytest.fixture(scope="session")
def tiny_pipe():
    pipe = untrained_pipeline(TINY_SD, TINY_VAE, seed=0, pipeline_class=StorybookPipeline)
    pipe.vocabulary = prompt_vocabulary(pipe.tokenizer)
    return pipe


@pytest.fixture(scope="session")
def tiny_folder(tiny_pipe, tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-sd") / "storybook-sd"
    save_pipeline(tiny_pipe, folder)
    return folder
