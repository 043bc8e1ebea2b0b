"""The main job's task: smart-home requests in free text turned into one
fixed JSON schema, the kind of structured-output task small models are
fine-tuned for (function calling, form filling).

    python make_data.py --out DIR [--seed N] [--train N] [--validation N] [--test N]

Writes DIR/train.jsonl and DIR/validation.jsonl (chat records: system, user,
assistant) and DIR/test.jsonl (prompt, completion, system) for
`tunefleet-trainer evaluate`. Every reply is one JSON object with the keys
action, device, room, value, in that order, compact:

    "Could you dim the bedroom lights to 30%?"
    -> {"action":"set_brightness","device":"light","room":"bedroom","value":30}

The held-out test requests combine (action, room, value) triples that no
training request has, so a model must read the request, not recall it.
Deterministic for a seed (Python's random.Random is specified to be).
"""

import argparse
import json
import os
import random

SYSTEM = ("Convert the smart-home request to JSON with the keys action, device, room and value. "
          "Reply with the JSON only.")

ROOMS = {
    "kitchen": ["kitchen"],
    "bedroom": ["bedroom"],
    "living_room": ["living room", "lounge"],
    "bathroom": ["bathroom"],
    "office": ["office", "study"],
    "garage": ["garage"],
    "hallway": ["hallway", "hall"],
}

# action -> (device, phrasings with {room} and {value}, value range or None)
ACTIONS = {
    "turn_on_light": ("turn_on", "light", None, [
        "Turn on the {room} lights", "Switch on the light in the {room}", "Can you turn the {room} lights on?",
        "Lights on in the {room}, please", "I need some light in the {room}"]),
    "turn_off_light": ("turn_off", "light", None, [
        "Turn off the {room} lights", "Switch the light in the {room} off", "Kill the lights in the {room}",
        "Could you turn off the lights in the {room}?", "{room} lights off"]),
    "set_brightness": ("set_brightness", "light", (5, 100), [
        "Dim the {room} lights to {value}%", "Set the {room} light brightness to {value} percent",
        "Make the lights in the {room} {value}% bright", "Could you set the {room} lights at {value}%?",
        "Brightness {value} in the {room}"]),
    "set_temperature": ("set_temperature", "thermostat", (16, 28), [
        "Set the {room} thermostat to {value} degrees", "Make it {value} degrees in the {room}",
        "Heat the {room} to {value}", "I want the {room} at {value} degrees, please",
        "Change the {room} temperature to {value}"]),
    "open_blinds": ("open", "blinds", None, [
        "Open the blinds in the {room}", "Raise the {room} blinds", "Let some daylight into the {room}",
        "Could you open the {room} blinds?", "{room} blinds up"]),
    "close_blinds": ("close", "blinds", None, [
        "Close the blinds in the {room}", "Lower the {room} blinds", "Shut the {room} blinds, please",
        "Could you close the blinds in the {room}?", "{room} blinds down"]),
    "fan_on": ("turn_on", "fan", None, [
        "Turn on the fan in the {room}", "Start the {room} fan", "Switch the {room} fan on",
        "It's hot in the {room}, turn the fan on", "Fan on in the {room}"]),
    "fan_off": ("turn_off", "fan", None, [
        "Turn off the fan in the {room}", "Stop the {room} fan", "Switch the {room} fan off",
        "Could you turn the {room} fan off?", "Fan off in the {room}"]),
    "set_volume": ("set_volume", "speaker", (0, 100), [
        "Set the {room} speaker volume to {value}", "Turn the music in the {room} to {value}%",
        "Speaker in the {room} at volume {value}", "Could you put the {room} speaker on {value}?",
        "Volume {value} in the {room}"]),
    "lock_door": ("lock", "door", None, [
        "Lock the {room} door", "Make sure the {room} door is locked", "Lock up the {room}",
        "Could you lock the door to the {room}?", "{room} door lock"]),
    "unlock_door": ("unlock", "door", None, [
        "Unlock the {room} door", "Open the lock on the {room} door", "Let me into the {room}",
        "Could you unlock the {room} door?", "{room} door unlock"]),
}


def reply(action, device, room, value):
    return json.dumps({"action": action, "device": device, "room": room, "value": value}, separators=(",", ":"))


def request(rng, template, room, value):
    text = template.format(room=rng.choice(ROOMS[room]), value=value)
    return text[0].upper() + text[1:]


def triples(rng):
    """Every (kind, room, value) the task has, in a seeded order."""
    out = []
    for kind, (_, _, values, _) in sorted(ACTIONS.items()):
        for room in sorted(ROOMS):
            if values is None:
                out.append((kind, room, None))
            else:
                lo, hi = values
                step = 5 if kind in ("set_brightness", "set_volume") else 1
                out.extend((kind, room, v) for v in range(lo, hi + 1, step))
    rng.shuffle(out)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--train", type=int, default=1600)
    p.add_argument("--validation", type=int, default=64)
    p.add_argument("--test", type=int, default=100)
    args = p.parse_args()
    rng = random.Random(args.seed)
    every = triples(rng)
    held = every[: args.validation + args.test]  # triples no training request has
    seen = every[args.validation + args.test:]
    os.makedirs(args.out, exist_ok=True)

    def example(triple):
        kind, room, value = triple
        action, device, _, templates = ACTIONS[kind]
        return request(rng, rng.choice(templates), room, value), reply(action, device, room, value)

    with open(os.path.join(args.out, "train.jsonl"), "w") as f:
        for _ in range(args.train):
            user, answer = example(rng.choice(seen))
            f.write(json.dumps({"messages": [{"role": "system", "content": SYSTEM},
                                             {"role": "user", "content": user},
                                             {"role": "assistant", "content": answer}]}) + "\n")
    with open(os.path.join(args.out, "validation.jsonl"), "w") as f:
        for triple in held[: args.validation]:
            user, answer = example(triple)
            f.write(json.dumps({"messages": [{"role": "system", "content": SYSTEM},
                                             {"role": "user", "content": user},
                                             {"role": "assistant", "content": answer}]}) + "\n")
    with open(os.path.join(args.out, "test.jsonl"), "w") as f:
        for triple in held[args.validation:]:
            user, answer = example(triple)
            f.write(json.dumps({"system": SYSTEM, "prompt": user, "completion": answer}) + "\n")
    print(f"{args.train} train, {args.validation} validation, {args.test} test requests in {args.out} "
          f"({len(seen)} training triples, {len(held)} held out)")


if __name__ == "__main__":
    main()
