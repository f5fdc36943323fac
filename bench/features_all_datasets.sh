#!/usr/bin/env bash
# Reads every data set in ../shared/data with the right processor or generic flags and writes
# its TFRecords; prints the command line, row counts and label counts of each.
#   bash bench/features_all_datasets.sh [DATA_DIR] [OUT_DIR]
set -u
D=${1:-../shared/data}
OUT=${2:-/tmp/bert_tf_features}
PY=${PYTHON:-.venv/bin/python}
L="--max_seq_length=128"
run() {
  name=$1; shift
  echo "=== $name"
  echo "\$ python -m bert_tf.cli.features $* $L --output_dir=$OUT/$name"
  $PY -m bert_tf.cli.features "$@" $L --output_dir=$OUT/$name 2>/dev/null | grep -v "^$"
}
run cola --task_name=cola --data_dir=$D/glue/CoLA
run sst2 --task_name=sst-2 --data_dir=$D/glue/SST-2
run mrpc --task_name=mrpc --data_dir=$D/glue/MRPC
run rte --task_name=rte --data_dir=$D/glue/RTE
run stsb --task_name=sts-b --data_dir=$D/glue/STS-B
run wnli --task_name=wnli --data_dir=$D/glue/WNLI
run diagnostic --test_file=$D/glue/diagnostic.tsv --text_column=sentence1 --text_b_column=sentence2 --label_list=entailment,neutral,contradiction --do_predict
run goemotions --data_dir=$D/goemotions --label_delimiter=, --labels_file=$D/goemotions/labels.txt
run smp_usual --train_file=$D/smp2020-ewect/usual_train.json --dev_file=$D/smp2020-ewect/usual_eval_labeled.json --text_column=content
run smp_virus --train_file=$D/smp2020-ewect/virus_train.json --dev_file=$D/smp2020-ewect/virus_eval_labeled.json --test_file=$D/smp2020-ewect/virus_test_labeled.json --text_column=content
run toxic --train_file=$D/toxic/train_sample.csv --dev_file=$D/toxic/val_sample.csv --text_column=comment_text --label_column=toxic,severe_toxic,obscene,threat,insult,identity_hate
run sms_spam --train_file=$D/sms-spam/SMSSpamCollection --file_format=tsv --header=false --text_column=1 --label_column=0 --dev_split=0
run trec --task_name=trec --data_dir=$D/trec --do_train --do_eval=false --do_predict=false
run agnews --train_file=$D/agnews/train.tsv --header=false --text_column=0 --label_column=1 --dev_split=0
run 20newsgroups --train_file=$D/20newsgroups/20news-bydate-train --file_format=folder --encoding=latin-1 --dev_split=0
run imdb --train_file=$D/imdb/aclImdb/train --file_format=folder --dev_split=0 --truncation=head_tail
run chnsenticorp --train_file=$D/chnsenticorp/ChnSentiCorp_htl_all.csv --text_column=review --dev_split=0
run waimai --train_file=$D/waimai/waimai_10k.csv --text_column=review --dev_split=0
run thucnews --train_file=$D/thucnews/dev.txt --header=false --text_column=0 --label_column=1 --labels_file=$D/thucnews/class.txt --dev_split=0
