"""The outdoor label recipe (fusing two teachers' maps) and the car-part recall evaluation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.cli import main as cli_main
from core.masking.inference import Segmenter
from core.training.evaluate_parts import evaluate_parts, near_frame_edge, read_part_names
from tools.outdoor_labels.fuse import Recipe, fuse_photo, fuse_source


def _car(height: int = 60, width: int = 80) -> np.ndarray:
    probability = np.full((height, width), 0.02, np.float32)
    probability[20:50, 10:60] = 0.98
    return probability


def test_fusion_keeps_the_main_car_and_leaves_other_objects_unknown():
    isnet = _car()
    isnet[5:15, 65:78] = 0.95  # another object, apart from the car
    isnet[30:34, 10:14] = 0.5  # an unsure patch on the car
    u2netp = _car()
    u2netp[40:50, 10:20] = 0.1  # the second teacher disagrees on a corner
    mask, confidence, stats, _ = fuse_photo(isnet, u2netp, None, Recipe())
    assert stats["drop"] is None
    assert mask[25, 30] == 255 and mask[10, 70] == 0  # the other object is not the car...
    assert confidence[10, 70] == 0  # ...nor surely background
    assert confidence[32, 12] == 0  # unsure: unknown
    assert confidence[45, 15] == round(Recipe().disagree_weight * 255)
    assert confidence[2, 2] == 255 and confidence[30, 40] == 255


def test_fusion_leaves_a_mirror_the_teachers_trimmed_unknown_not_background():
    isnet, u2netp = _car(), _car()
    isnet[14:20, 58:64] = 0.04  # a mirror both teachers trim, but not to zero
    u2netp[14:20, 58:64] = 0.2
    mask, confidence, stats, _ = fuse_photo(isnet, u2netp, None, Recipe())
    assert stats["drop"] is None and mask[16, 60] == 0
    assert confidence[16, 60] == 0  # not taught as background
    assert confidence[5, 70] == 255  # where both teachers are sure, background stays background


def test_fusion_adds_labelled_parts_and_drops_photos_it_cannot_trust():
    parts = np.zeros((60, 80), bool)
    parts[22:30, 12:20] = True
    isnet = _car()
    isnet[22:30, 12:20] = 0.9
    mask, confidence, stats, _ = fuse_photo(isnet, _car(), parts, Recipe())
    assert stats["drop"] is None and mask[parts].all() and (confidence[parts] == 255).all()
    missing = _car()
    missing[20:50, 10:35] = 0.02  # the teacher misses half the car, parts included
    assert fuse_photo(missing, _car(), parts, Recipe())[2]["drop"] == "misses labelled car parts"
    assert fuse_photo(np.zeros((60, 80), np.float32), np.zeros((60, 80), np.float32), None, Recipe())[2]["drop"]
    assert fuse_photo(_car(), np.zeros((60, 80), np.float32), None, Recipe())[2]["drop"] == "teachers disagree"



def _instance(box: tuple[int, int, int, int], shape: tuple[int, int] = (60, 80)) -> np.ndarray:
    mask = np.zeros(shape, bool)
    y0, y1, x0, x1 = box
    mask[y0:y1, x0:x1] = True
    return mask


def test_fusion_cuts_a_person_joined_to_the_car_but_keeps_one_seen_through_its_glass():
    isnet = _car()
    isnet[5:50, 60:72] = 0.97  # a person standing against the car's side: one object for the teachers
    car, person, driver = _instance((20, 50, 10, 60)), _instance((5, 50, 60, 72)), _instance((22, 30, 30, 36))
    instances = (np.array([2, 0, 0]), np.array([0.9, 0.8, 0.7], np.float32), np.stack([car, person, driver]))
    without, _, _, _ = fuse_photo(isnet, isnet.copy(), None, Recipe())
    mask, confidence, stats, taught = fuse_photo(isnet, isnet.copy(), None, Recipe(), instances)
    assert without[30, 68] == 255 and stats["drop"] is None
    assert taught[30, 68] and not taught[35, 30] and not taught[30, 61]  # the person's core is what is weighed
    assert not fuse_photo(isnet, isnet.copy(), None, Recipe())[3].any()  # without instances: nothing
    assert mask[30, 68] == 0 and confidence[30, 68] == 255  # the person's core: taught as background
    assert confidence[30, 61] == 0  # near the car's instance: unknown
    assert mask[26, 33] == 255 and mask[35, 30] == 255  # the driver inside the car and the car stay
    assert stats["instance_cut_share"] > 0
    car[24:31, 28:38] = False  # the car's instance misses its window, where a passenger sits
    passenger = _instance((24, 31, 28, 38))
    instances = (np.array([2, 0, 0]), np.array([0.9, 0.8, 0.7], np.float32), np.stack([car, person, passenger]))
    mask, confidence, _, taught = fuse_photo(isnet, isnet.copy(), None, Recipe(), instances)
    assert mask[27, 33] == 255 and confidence[27, 33] == 255 and not taught[27, 33]  # enclosed by the car: still car
    assert mask[30, 68] == 0  # the person beside it is still cut


def test_fusion_ignores_instances_that_are_not_the_main_car_or_cut_labelled_parts():
    isnet = _car()
    isnet[5:50, 60:72] = 0.97
    person = _instance((5, 50, 60, 72))
    no_vehicle = (np.array([0]), np.array([0.9], np.float32), person[None])
    assert (fuse_photo(isnet, isnet.copy(), None, Recipe(), no_vehicle)[0] == fuse_photo(
        isnet, isnet.copy(), None, Recipe())[0]).all()  # no vehicle is the main car: nothing is cut
    parts = _instance((10, 40, 62, 70))  # the "person" holds labelled car parts: it is car
    instances = (np.array([2, 0]), np.array([0.9, 0.8], np.float32), np.stack([_instance((20, 50, 10, 60)), person]))
    mask, _, stats, _ = fuse_photo(isnet, isnet.copy(), parts, Recipe(), instances)
    assert mask[30, 68] == 255 and stats["instance_cut_share"] == 0.0


def test_instance_decoding_keeps_one_mask_per_vehicle_and_drops_unwanted_classes():
    from tools.outdoor_labels.instances import decode

    protos = np.full((32, 160, 160), -10.0, np.float32)
    protos[0, 40:80, 20:100] = 10.0  # the car's shape (proto space: a quarter of the input)
    protos[1, 20:60, 120:140] = 10.0  # the person's
    rows = []
    for centre, size, objectness, cls, score, coefficient in [
        ((240, 240), (320, 160), 0.95, 2, 0.9, 0),  # a car
        ((242, 240), (316, 158), 0.9, 7, 0.8, 0),  # the same car seen as a truck: suppressed
        ((520, 160), (80, 160), 0.9, 0, 0.9, 1),  # a person
        ((100, 500), (40, 40), 0.9, 16, 0.9, 1),  # a dog: not kept
        ((400, 500), (40, 40), 0.2, 2, 0.9, 1),  # a car too unsure to keep
    ]:
        row = np.zeros(117, np.float32)
        row[:4] = [*centre, *size]
        row[4] = objectness
        row[5 + cls] = score
        row[85 + coefficient] = 1.0
        rows.append(row)
    classes, scores, masks = decode(np.stack(rows), protos, (640, 640), 1.0, 0, 0)
    assert classes.tolist() == [2, 0] and masks.shape == (2, 640, 640)
    assert masks[0, 240, 240] and not masks[0, 400, 240] and masks[1, 160, 520] and not masks[1, 160, 240]
    assert scores[0] == pytest.approx(0.95 * 0.9)


def test_instance_files_round_trip_and_a_bad_one_names_itself(tmp_path):
    from tools.outdoor_labels.instances import read_instances, write_instances

    masks = np.stack([_instance((1, 9, 2, 7), (10, 13)), _instance((0, 3, 0, 13), (10, 13))])
    write_instances(tmp_path / "a.npz", np.array([2, 0]), np.array([0.9, 0.5], np.float32), masks)
    classes, scores, back = read_instances(tmp_path / "a.npz")
    assert classes.tolist() == [2, 0] and (back == masks).all() and scores.dtype == np.float32
    write_instances(tmp_path / "none.npz", np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros((0, 10, 13), bool))
    assert read_instances(tmp_path / "none.npz")[2].shape == (0, 10, 13)  # a photo without people or vehicles
    (tmp_path / "b.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="b.npz: not an instance file"):
        read_instances(tmp_path / "b.npz")

def _parts_set(tmp_path: Path) -> tuple[Path, Path, Path]:
    images, parts = tmp_path / "images", tmp_path / "parts"
    images.mkdir()
    parts.mkdir()
    rng = np.random.default_rng(0)
    for index in range(3):
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(images / f"p{index}.jpg")
        labels = np.zeros((64, 64), np.uint8)
        labels[10:30, 10:30] = 18  # wheel
        labels[40:50, 40:60] = 14  # left mirror
        Image.fromarray(labels).save(parts / f"p{index}.png")
    names = tmp_path / "parts.json"
    names.write_text(json.dumps({"0": "not labelled", "14": "left_mirror", "18": "wheel"}))
    return images, parts, names


def test_part_recall_counts_the_labelled_pixels_the_mask_keeps(tmp_path, tiny_checkpoint):
    images, parts, names = _parts_set(tmp_path)
    segmenter = Segmenter.load(tiny_checkpoint, device="cpu")
    observed = []
    report = evaluate_parts(segmenter, images, parts, part_names=read_part_names(names),
                            observe=lambda stem, prediction: observed.append((stem, prediction.mask.shape)))
    assert observed == [(f"p{index}", (64, 64)) for index in range(3)]
    kept = total = 0
    wheel_kept = near_kept = near_total = 0
    for index in range(3):
        mask = segmenter.predict(np.asarray(Image.open(images / f"p{index}.jpg").convert("RGB"))).mask
        labels = np.asarray(Image.open(parts / f"p{index}.png"))
        kept += int((mask & (labels > 0)).sum())
        total += int((labels > 0).sum())
        wheel_kept += int((mask & (labels == 18)).sum())
        assert report.photo_parts[f"p{index}"] == {18: (int((mask & (labels == 18)).sum()), 400),
                                                   14: (int((mask & (labels == 14)).sum()), 200)}
        near = (labels > 0) & near_frame_edge(*mask.shape)
        near_kept, near_total = near_kept + int((mask & near).sum()), near_total + int(near.sum())
    assert report.recall() == pytest.approx(kept / total)
    assert report.to_dict()["wheels"] == pytest.approx(wheel_kept / (3 * 400))
    assert set(report.to_dict()["per_part"]) == {"wheel", "left_mirror"}
    assert near_total > 0 and report.to_dict()["near_edge"] == pytest.approx(near_kept / near_total)


def test_near_frame_edge_is_a_band_a_share_of_the_longer_side_wide():
    near = near_frame_edge(40, 100, share=0.1)  # 10 pixels on every side
    assert near[:10].all() and near[-10:].all() and near[:, :10].all() and near[:, -10:].all()
    assert not near[10:30, 10:90].any()


def test_eval_with_parts_prints_the_recall(tmp_path, tiny_checkpoint, capsys):
    images, parts, names = _parts_set(tmp_path)
    code = cli_main(["eval", "--images", str(images), "--parts", str(parts), "--part-names", str(names),
                     "--model", str(tiny_checkpoint), "--device", "cpu", "--json"])
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and figures["photos"] == 3 and 0 <= figures["recall"] <= 1


def test_bad_part_names_are_one_line_naming_the_file(tmp_path):
    path = tmp_path / "parts.json"
    path.write_text('{"wheel": 18}')
    with pytest.raises(ValueError, match="parts.json: part names are an object"):
        read_part_names(path)


def test_eval_with_confidence_scores_only_the_trusted_pixels(tmp_path, tiny_checkpoint):
    from core.training.evaluate import evaluate_folder

    images, masks, confidence = tmp_path / "images", tmp_path / "masks", tmp_path / "confidence"
    for folder in (images, masks, confidence):
        folder.mkdir()
    photo = np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(photo).save(images / "street_1.png")
    segmenter = Segmenter.load(tiny_checkpoint, device="cpu", flip_tta=False)
    predicted = segmenter.predict(np.asarray(Image.open(images / "street_1.png").convert("RGB"))).mask
    label = predicted.copy()
    label[:, :32] = ~label[:, :32]  # the label is wrong on the left half...
    trusted = np.zeros((64, 64), np.uint8)
    trusted[:, 32:] = 255  # ...which is not trusted
    Image.fromarray(label.astype(np.uint8) * 255).save(masks / "street_1.png")
    Image.fromarray(trusted).save(confidence / "street_1.png")
    assert evaluate_folder(segmenter, images, masks, confidence_dir=confidence).dice == pytest.approx(1.0)
    assert evaluate_folder(segmenter, images, masks).dice < 1.0


def test_the_app_and_the_core_never_use_the_teachers():
    root = Path(__file__).resolve().parent.parent
    for path in [*(root / "core").rglob("*.py"), *(root / "maskingnet_app").rglob("*.py")]:
        text = path.read_text()
        assert "onnxruntime" not in text and "tools.outdoor_labels" not in text, path


def test_a_composite_keeps_the_pasted_cars_exact_mask_where_the_old_car_stood():
    from tools.outdoor_labels.composites import make_composite, paint_out

    rng = np.random.default_rng(0)
    background = np.full((120, 160, 3), 90, np.uint8)
    old_car = np.zeros((120, 160), bool)
    old_car[50:100, 30:130] = True
    background[old_car] = (200, 30, 30)  # the outdoor car, to be painted out
    car_rgb = np.zeros((60, 80, 3), np.uint8)
    car_mask = np.zeros((60, 80), bool)
    car_mask[20:50, 10:70] = True
    car_rgb[car_mask] = (20, 20, 230)
    photo, mask = make_composite(car_rgb, car_mask, background, old_car, rng)
    assert photo.shape == background.shape and mask.shape == old_car.shape
    ys, xs = np.nonzero(mask)
    assert abs(ys.max() - 100) <= 8 and abs((xs.min() + xs.max()) / 2 - 80) <= 15  # stands where the old car stood
    assert xs.max() - xs.min() >= 95  # and hides it
    inside, outside = photo[mask], photo[~mask]
    assert inside[:, 2].mean() > 150 and inside[:, 0].mean() < 60  # the car is the pasted car...
    assert (outside[:, 0].astype(int) - outside[:, 1]).mean() < 60  # ...and the red car is painted out
    assert not paint_out(background, old_car)[old_car].std(axis=0).max() > 40


def test_a_crowd_composite_parks_other_cars_behind_the_main_one_as_background():
    from tools.outdoor_labels.composites import make_composite, make_crowd_composite

    background = np.full((120, 200, 3), 90, np.uint8)
    old_car = np.zeros((120, 200), bool)
    old_car[60:100, 60:140] = True
    car_rgb = np.zeros((60, 80, 3), np.uint8)
    car_mask = np.zeros((60, 80), bool)
    car_mask[20:50, 10:70] = True
    car_rgb[car_mask] = (20, 20, 230)  # the main car: blue
    other_rgb = np.zeros((60, 80, 3), np.uint8)
    other_rgb[car_mask] = (30, 230, 30)  # the parked car: green
    alone_photo, alone_mask = make_composite(car_rgb, car_mask, background, old_car, np.random.default_rng(5))
    photo, mask, parked = make_crowd_composite(car_rgb, car_mask, background, old_car, np.random.default_rng(5),
                                               [(other_rgb, car_mask)])
    green = (photo[..., 1] > 150) & (photo[..., 0] < 100) & (photo[..., 2] < 100)
    assert green.sum() > 100 and not (green & mask).any()  # the parked car shows, and is background
    assert not (parked & mask).any() and (green & parked).sum() > 0.9 * green.sum()  # its pixels, to weigh
    ys_other, _ = np.nonzero(green)
    ys_main, _ = np.nonzero(mask)
    assert ys_other.max() < ys_main.max()  # it stands further back
    blue = (photo[..., 2] > 150) & (photo[..., 0] < 100)
    assert (blue & mask).sum() > 0.9 * mask.sum()  # the main car is in front, whole
    assert abs(int(mask.sum()) - int(alone_mask.sum())) < 0.1 * alone_mask.sum()


def _crowd_scene() -> tuple[np.ndarray, np.ndarray]:
    """(main car with a mirror, a parked car touching its side and reaching far from it), 100 x 200."""
    mask = np.zeros((100, 200), bool)
    mask[40:90, 50:150] = True  # the body, 100 px wide
    mask[44:48, 150:154] = True  # a mirror standing 4 px out of its right side
    parked = np.zeros((100, 200), bool)
    parked[30:80, 150:200] = True
    return mask, parked & ~mask


def test_spared_crowd_labels_leave_the_band_around_the_main_car_unknown_and_weigh_its_mirrors():
    from tools.outdoor_labels.crowd_spared import spared_maps

    mask, parked = _crowd_scene()
    confidence, emphasis = spared_maps(mask, parked, band=0.05, protrusion=0.035)
    assert confidence.shape == emphasis.shape == mask.shape
    assert (confidence[60, 151:154] == 0).all()  # a parked pixel 1-3 px from the car: unknown
    assert confidence[60, 160] == 255 and emphasis[60, 160] == 255  # 10 px out: parked, taught hard
    assert (confidence[~parked] == 255).all()  # only parked pixels are ever unknown
    assert (emphasis[44:48, 151:154] == 255).all()  # the mirror (beyond the body's rounded edge) is emphasised
    assert emphasis[65, 100] == 0 and emphasis[5, 5] == 0  # the body's core and far background are not
    with pytest.raises(ValueError):
        spared_maps(mask, parked[:, :100])


def test_spared_crowd_labels_are_written_for_every_crowd_composite_and_resume(tmp_path):
    from core.training.training_mix import mix_samples, read_mix
    from tools.outdoor_labels.crowd_spared import build

    mask, parked = _crowd_scene()
    for sub in ("images", "masks", "emphasis"):
        (tmp_path / sub).mkdir()
    for stem in ("a1b2c3d4e5f6_01", "a1b2c3d4e5f6_02"):
        Image.fromarray(np.full((100, 200, 3), 90, np.uint8)).save(tmp_path / "images" / f"{stem}.jpg")
        Image.fromarray(mask.astype(np.uint8) * 255).save(tmp_path / "masks" / f"{stem}.png")
        Image.fromarray(parked.astype(np.uint8) * 255).save(tmp_path / "emphasis" / f"{stem}.png")
    report = build(tmp_path)
    assert report["written"] == 2 and 0 < report["parked_share_unknown"] < 0.5
    confidence = np.asarray(Image.open(tmp_path / "spared" / "confidence" / "a1b2c3d4e5f6_01.png"))
    assert confidence[60, 152] == 0 and confidence[60, 170] == 255
    assert build(tmp_path)["kept"] == 2  # a second run keeps what is there
    mix = tmp_path / "mix.json"
    mix.write_text(json.dumps({"sources": [{
        "name": "composites-crowd", "images": str(tmp_path / "images"), "masks": str(tmp_path / "masks"),
        "confidence": str(tmp_path / "spared" / "confidence"), "emphasis": str(tmp_path / "spared" / "emphasis"),
        "split": "group", "val_fraction": 0}]}))
    train, _, _ = mix_samples(read_mix(mix))
    assert len(train) == 2 and all(s.confidence is not None and s.weight is not None for s in train)


def test_composites_cover_every_car_so_the_split_by_car_holds():
    from core.training.data import Sample
    from tools.outdoor_labels.composites import _every_car

    samples = [Sample(image=Path(f"{car}_{angle:02d}.jpg"), mask=Path("m.png"), group=car)
               for car in ("aaa", "bbb", "ccc") for angle in range(1, 17)]
    chosen = _every_car(samples, 4, seed=0)
    assert sorted({s.group for s in chosen}) == ["aaa", "bbb", "ccc"] and len(chosen) == 12
    assert _every_car(samples, 4, seed=0) == chosen and _every_car(samples, 40, seed=0) != []


def test_held_out_outdoor_figures_leave_out_photos_an_earlier_stage_trained_on(tmp_path, tiny_checkpoint):
    """A label set that grows is split afresh: a photo held out now may have trained the starting model."""
    from dataclasses import replace

    from benchmarks.eval_sources import dice_sources
    from core.training.training_mix import trained_groups

    folder = tmp_path / "stanford-cars" / "labels"
    for sub in ("images", "masks", "confidence"):
        (folder / sub).mkdir(parents=True)
    rng = np.random.default_rng(2)
    for stem in ("s1", "s2", "s3"):
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(folder / "images" / f"{stem}.jpg")
        Image.fromarray(np.full((32, 32), 255, np.uint8)).save(folder / "masks" / f"{stem}.png")
        Image.fromarray(np.full((32, 32), 255, np.uint8)).save(folder / "confidence" / f"{stem}.png")
    segmenter = Segmenter.load(tiny_checkpoint, device="cpu", flip_tta=False)
    info = {**segmenter.config.info, "val_groups": ["stanford-cars:s1", "stanford-cars:s2", "stanford-cars:s3"],
            "trained_before": ["stanford-cars:s3"]}
    segmenter = Segmenter(segmenter.model, replace(segmenter.config, info=info), device="cpu", flip_tta=False)
    assert dice_sources(info, tmp_path / "no-data", tmp_path)["stanford-cars"][2]["stems"] == {"s1", "s2"}
    assert dice_sources(info, tmp_path / "no-data", tmp_path, seen={"stanford-cars:s2"})["stanford-cars"][2]["stems"] == {"s1"}
    assert set(dice_sources(info, tmp_path / "no-data", tmp_path)) == {"stanford-cars"}  # no other labels here
    assert trained_groups({"train_groups": ["a"], "trained_before": ["b"]}) == {"a", "b"}
    from benchmarks.eval_sources import source_figures

    only_stanford = source_figures(segmenter, tmp_path / "no-data", tmp_path, only={"stanford-cars"})
    assert only_stanford["stanford_photos"] == 2 and set(only_stanford) == {"stanford_dice_vs_labels", "stanford_photos"}


def test_teacher_part_recall_is_the_share_of_labelled_pixels_each_teacher_keeps(tmp_path):
    from tools.outdoor_labels.teacher_parts import teacher_part_recall

    teachers, parts = tmp_path / "teachers", tmp_path / "parts"
    teachers.mkdir()
    parts.mkdir()
    labels = np.zeros((20, 20), np.uint8)
    labels[0:10, 0:10] = 18  # 100 wheel pixels
    labels[10:12, 10:20] = 14  # 20 mirror pixels
    Image.fromarray(labels).save(parts / "p1.png")
    isnet = np.zeros((20, 20), np.uint8)
    isnet[0:10, 0:10] = 255
    isnet[10:11, 10:20] = 255  # half the mirror
    Image.fromarray(isnet).save(teachers / "p1.isnet.png")
    Image.fromarray(np.full((20, 20), 255, np.uint8)).save(teachers / "p1.u2netp.png")
    recall = teacher_part_recall(teachers, parts)
    assert recall["isnet"] == pytest.approx({"all": 110 / 120, "mirrors": 0.5, "wheels": 1.0})
    assert recall["u2netp"]["mirrors"] == 1.0


def test_fusing_a_parts_source_writes_mirrors_and_wheels_as_its_emphasis_map(tmp_path):
    images, parts, _ = _parts_set(tmp_path)
    cache = tmp_path / "cache"
    teachers = cache / "parts-set" / "teachers"
    teachers.mkdir(parents=True)
    car = np.full((64, 64), 5, np.uint8)
    car[5:60, 5:62] = 250
    for index in range(3):
        for teacher in ("isnet", "u2netp"):
            Image.fromarray(car).save(teachers / f"p{index}.{teacher}.png")
    labels_of_p0 = np.asarray(Image.open(parts / "p0.png")).copy()
    labels_of_p0[32:36, 32:36] = 13  # a hood patch: surely car, not emphasised
    Image.fromarray(labels_of_p0).save(parts / "p0.png")
    report = fuse_source(cache, "parts-set", images, parts, Recipe())
    assert report["kept"] == 3
    emphasis = np.asarray(Image.open(cache / "parts-set" / "labels" / "emphasis" / "p0.png"))
    assert (emphasis[10:30, 10:30] == 255).all() and (emphasis[40:50, 40:60] == 255).all()  # wheel, mirror
    assert (emphasis[32:36, 32:36] == 0).all() and emphasis.sum() == 255 * (20 * 20 + 10 * 20)


def test_outdoor_dice_is_also_reported_by_how_wide_the_car_stands(tmp_path):
    from benchmarks.eval_sources import dice_by_car_width

    for stem, (left, right) in {"narrow": (40, 70), "half": (0, 50), "wide": (2, 98), "none": (0, 0)}.items():
        mask = np.zeros((40, 100), np.uint8)
        mask[10:30, left:right] = 255
        Image.fromarray(mask).save(tmp_path / f"{stem}.png")
    figures = dice_by_car_width({"narrow": 0.5, "half": 0.7, "wide": 0.9, "none": 0.1}, tmp_path)
    assert figures == {"0.0-0.5": {"photos": 3, "dice": pytest.approx(0.4333, abs=1e-4)},
                       "0.9-1.0": {"photos": 1, "dice": 0.9}}


def test_the_main_car_check_scores_only_the_other_objects_cores(tmp_path):
    from benchmarks.eval_main_car import other_objects
    from tools.outdoor_labels.instances import write_instances

    parts = np.zeros((60, 80), np.uint8)
    parts[25:45, 15:50] = 18  # hand-labelled parts of the car on the left
    Image.fromarray(parts).save(tmp_path / "p.png")
    car, other_car = _instance((20, 50, 10, 55)), _instance((10, 55, 58, 80))
    write_instances(tmp_path / "two.npz", np.array([2, 2]), np.array([0.9, 0.9], np.float32), np.stack([car, other_car]))
    core = other_objects(tmp_path / "p.png", tmp_path / "two.npz")
    assert core[30, 70] and not core[30, 30] and not core[30, 57]  # the other car's core, not its rim
    write_instances(tmp_path / "one.npz", np.array([2]), np.array([0.9], np.float32), car[None])
    assert other_objects(tmp_path / "p.png", tmp_path / "one.npz") is None


def test_fusing_with_instances_emphasises_the_other_objects_cores_taught_as_background(tmp_path):
    from tools.outdoor_labels.instances import write_instances

    cache, images = tmp_path / "cache", tmp_path / "images"
    teachers, instances = cache / "lot" / "teachers", cache / "lot" / "instances"
    for folder in (teachers, instances, images):
        folder.mkdir(parents=True)
    isnet = (_car() * 255).astype(np.uint8)
    isnet[5:50, 60:72] = 250  # a person against the car's side
    for stem in ("crowded", "alone"):
        Image.fromarray(np.zeros((60, 80, 3), np.uint8)).save(images / f"{stem}.jpg")
        for teacher in ("isnet", "u2netp"):
            Image.fromarray(isnet if stem == "crowded" else (_car() * 255).astype(np.uint8)).save(
                teachers / f"{stem}.{teacher}.png")
    car, person = _instance((20, 50, 10, 60)), _instance((5, 50, 60, 72))
    write_instances(instances / "crowded.npz", np.array([2, 0]), np.array([0.9, 0.8], np.float32), np.stack([car, person]))
    write_instances(instances / "alone.npz", np.array([2]), np.array([0.9], np.float32), car[None])
    report = fuse_source(cache, "lot", images, None, Recipe(), use_instances=True)
    labels = cache / "lot" / "labels"
    emphasis = np.asarray(Image.open(labels / "emphasis" / "crowded.png"))
    mask = np.asarray(Image.open(labels / "masks" / "crowded.png"))
    confidence = np.asarray(Image.open(labels / "confidence" / "crowded.png"))
    assert emphasis[30, 68] == 255 and mask[30, 68] == 0 and confidence[30, 68] == 255  # the person's core
    assert emphasis[30, 61] == 0 and emphasis[35, 30] == 0  # its unknown rim and the car: no emphasis
    assert (emphasis > 0).sum() == ((confidence == 255) & (mask == 0) & (emphasis > 0)).sum()
    assert not (labels / "emphasis" / "alone.png").exists()  # nothing to emphasise: no map
    assert report["emphasised"] == 1
    without = fuse_source(tmp_path / "cache", "lot", images, None, Recipe())  # without instances: no maps
    assert "emphasised" not in without and not (labels / "emphasis").exists()


def test_the_small_car_set_puts_each_held_out_car_small_into_a_wide_frame_with_its_exact_mask(tmp_path):
    from core.models.checkpoint import ModelConfig, save_model
    from core.models.preprocess import Preprocess
    from tools.outdoor_labels.small_cars import FRAME, WIDTH_SHARE, build

    config = ModelConfig(arch="segnet", width=4, preprocess=Preprocess(size=32),
                         info={"val_groups": ["heldcar", "stanford-cars:street1"]})
    save_model(tmp_path / "model.safetensors", config.build(), config)
    carvana, stanford = tmp_path / "carvana", tmp_path / "cache" / "stanford-cars" / "labels"
    for folder in (carvana / "images", carvana / "masks", stanford / "images", stanford / "masks"):
        folder.mkdir(parents=True)
    for car in ("heldcar", "traincar"):
        photo = np.full((128, 192, 3), 240, np.uint8)
        mask = np.zeros((128, 192), np.uint8)
        mask[40:100, 30:170] = 255
        photo[mask > 0] = (200, 20, 20) if car == "heldcar" else (20, 200, 20)
        Image.fromarray(photo).save(carvana / "images" / f"{car}_01.jpg")
        Image.fromarray(mask).save(carvana / "masks" / f"{car}_01_mask.png")
    street = np.full((300, 400, 3), 90, np.uint8)
    street_car = np.zeros((300, 400), np.uint8)
    street_car[100:250, 50:350] = 255
    street[street_car > 0] = (20, 20, 200)  # the stanford photo's own (blue) car, to be painted out
    street[250:265, 80:320] = (20, 20, 200)  # its sill, which the teachers missed but left unsure
    confidence = np.full((300, 400), 255, np.uint8)
    confidence[245:270, 70:330] = 0
    Image.fromarray(street).save(stanford / "images" / "street1.jpg")
    Image.fromarray(street_car).save(stanford / "masks" / "street1.png")
    (stanford / "confidence").mkdir()
    Image.fromarray(confidence).save(stanford / "confidence" / "street1.png")
    report = build(carvana, stanford, tmp_path / "cache", model=str(tmp_path / "model.safetensors"), per_car=2)
    assert report["photos"] == 2 and report["cars"] == 1  # only the held-out car
    out = tmp_path / "cache" / "small-cars"
    assert sorted(p.name for p in (out / "images").iterdir()) == ["heldcar_01_s0.jpg", "heldcar_01_s1.jpg"]
    for stem in ("heldcar_01_s0", "heldcar_01_s1"):
        photo = np.asarray(Image.open(out / "images" / f"{stem}.jpg")).astype(int)
        mask = np.asarray(Image.open(out / "masks" / f"{stem}.png")) > 127
        assert photo.shape[1::-1] == FRAME and mask.shape[::-1] == FRAME
        columns = np.flatnonzero(mask.any(axis=0))
        assert WIDTH_SHARE[0] - 0.05 <= (columns[-1] - columns[0] + 1) / FRAME[0] <= WIDTH_SHARE[1] * 1.15
        assert (photo[mask][:, 0] > photo[mask][:, 1] + 80).mean() > 0.9  # the mask holds the red car
        blue = (photo[..., 2] > photo[..., 0] + 80) & (photo[..., 2] > 150)
        assert blue.mean() < 0.001  # the street's own car is painted out, the unsure strip under it too
    assert report["made_from"]["heldcar_01_s0"] == {"car": "heldcar_01.jpg", "background": "street1"}
    again = build(carvana, stanford, tmp_path / "again", model=str(tmp_path / "model.safetensors"), per_car=2)
    for name in ("images/heldcar_01_s0.jpg", "masks/heldcar_01_s1.png"):  # seeded: the same set again
        assert (out / name).read_bytes() == (tmp_path / "again" / "small-cars" / name).read_bytes()
    assert again["set_id"] == report["set_id"]

    # another model holds out another car: the rebuilt set holds its photos only, under another id
    config.info["val_groups"] = ["traincar", "stanford-cars:street1"]
    save_model(tmp_path / "other.safetensors", config.build(), config)
    rebuilt = build(carvana, stanford, tmp_path / "cache", model=str(tmp_path / "other.safetensors"), per_car=1)
    assert sorted(p.name for p in (out / "images").iterdir()) == ["traincar_01_s0.jpg"]
    assert sorted(p.name for p in (out / "masks").iterdir()) == ["traincar_01_s0.png"]
    assert rebuilt["set_id"] != report["set_id"]
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["small-cars", "stanford-cars"]
    from benchmarks.eval_sources import small_cars_set_id

    assert small_cars_set_id(out) == rebuilt["set_id"]
    (out / "report.json").write_text("{not json")
    assert small_cars_set_id(out) == "unknown"


def test_the_teachers_can_label_only_the_listed_photos_of_a_source(tmp_path):
    """``run_teachers --only NAME=FILE``: the judged photos first; other sources stay whole."""
    from tools.outdoor_labels.run_teachers import main as run_teachers_main
    from tools.outdoor_labels.run_teachers import photo_jobs

    for source, stems in (("street", ("a", "b", "c")), ("parts", ("x", "y"))):
        (tmp_path / source).mkdir()
        for stem in stems:
            (tmp_path / source / f"{stem}.jpg").write_bytes(b"")
    (tmp_path / source / "notes.txt").write_text("not a photo")
    sources = [("street", tmp_path / "street"), ("parts", tmp_path / "parts")]
    every = photo_jobs(sources, seed=0)
    assert sorted((name, path.stem) for name, path in every) == [
        ("parts", "x"), ("parts", "y"), ("street", "a"), ("street", "b"), ("street", "c")]
    only = photo_jobs(sources, seed=0, only={"street": {"c", "a", "gone"}})
    assert sorted((name, path.stem) for name, path in only) == [("parts", "x"), ("parts", "y"), ("street", "a"), ("street", "c")]
    assert sorted(photo_jobs(sources, seed=0, only={"parts": set()})) == sorted(job for job in every if job[0] == "street")
    with pytest.raises(SystemExit):  # --only needs NAME=FILE with a file that exists
        run_teachers_main(["--source", f"street={tmp_path / 'street'}", "--cache", str(tmp_path / "cache"),
                           "--teachers-dir", str(tmp_path), "--only", f"street={tmp_path / 'missing.txt'}"])
