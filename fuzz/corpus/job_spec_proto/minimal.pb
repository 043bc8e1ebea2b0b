R
mZ	
d.jsonl