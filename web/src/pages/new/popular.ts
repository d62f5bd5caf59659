// Popular public datasets people fine-tune on. Choosing one registers it as a hub dataset, so
// it needs the Hugging Face hub at training time; row counts are those of the split named.
export interface PopularDataset {
  name: string
  hub_id: string
  split: string
  subset?: string
  rows: number
  task: string
  format: string
  blurb: string
}

export const POPULAR_DATASETS: PopularDataset[] = [
  { name: 'Alpaca', hub_id: 'tatsu-lab/alpaca', split: 'train', rows: 52_002, task: 'Instruction following', format: 'alpaca', blurb: 'Instruction, optional input, output.' },
  { name: 'GSM8K', hub_id: 'openai/gsm8k', split: 'train', subset: 'main', rows: 7_473, task: 'Math reasoning', format: 'question_answer', blurb: 'Grade-school word problems with worked answers ending in #### N.' },
  { name: 'FineTome-100k', hub_id: 'mlabonne/FineTome-100k', split: 'train', rows: 100_000, task: 'General chat', format: 'conversations', blurb: 'High-quality multi-turn ShareGPT conversations.' },
  { name: 'Dolly 15k', hub_id: 'databricks/databricks-dolly-15k', split: 'train', rows: 15_011, task: 'Instruction following', format: 'dolly', blurb: 'Human-written instructions with context and category.' },
  { name: 'OpenMathReasoning', hub_id: 'nvidia/OpenMathReasoning', split: 'cot', rows: 3_200_000, task: 'Math reasoning (long CoT)', format: 'problem_solution', blurb: 'Olympiad problems with <think> solutions; very large, use max samples.' },
  { name: 'Code Alpaca', hub_id: 'sahil2801/CodeAlpaca-20k', split: 'train', rows: 20_022, task: 'Code', format: 'alpaca', blurb: 'Programming instructions and solutions.' },
  { name: 'Orca-Math', hub_id: 'microsoft/orca-math-word-problems-200k', split: 'train', rows: 200_035, task: 'Math reasoning', format: 'question_answer', blurb: 'Word problems with step-by-step answers.' },
  { name: 'SQuAD v2', hub_id: 'rajpurkar/squad_v2', split: 'train', rows: 130_319, task: 'Reading comprehension', format: 'squad', blurb: 'Answer from a passage, or say it has no answer.' },
  { name: 'UltraFeedback', hub_id: 'HuggingFaceH4/ultrafeedback_binarized', split: 'train_prefs', rows: 61_135, task: 'Preference pairs', format: 'preference', blurb: 'Chosen and rejected answers (for DPO; SFT uses the chosen one).' },
]
