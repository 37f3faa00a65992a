<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="de" sourcelanguage="en">
    <context>
        <name>glnet</name>
        <message>
            <location filename="../glnet_core/messages.py" line="148" />
            <source>resampling to the model's {resolution:g} m/px: raster {width} x {height} px runs as {model_width} x {model_height} px</source>
            <translation>Umrechnung auf die {resolution:g} m/px des Modells: das Raster mit {width} x {height} px läuft als {model_width} x {model_height} px</translation>
        </message>
        <message>
            <location filename="../glnet_core/messages.py" line="151" />
            <source>{path} is georeferenced by {count} ground control point: the outputs keep it (and its CRS), on the input's pixel grid</source>
            <translation>{path} ist über {count} Passpunkt georeferenziert: die Ausgaben behalten ihn (und sein KBS), auf dem Pixelraster der Eingabe</translation>
        </message>
        <message>
            <location filename="../glnet_core/messages.py" line="151" />
            <source>{path} is georeferenced by {count} ground control points: the outputs keep them (and their CRS), on the input's pixel grid</source>
            <translation>{path} ist über {count} Passpunkte georeferenziert: die Ausgaben behalten sie (und ihr KBS), auf dem Pixelraster der Eingabe</translation>
        </message>
        <message>
            <location filename="../glnet_core/messages.py" line="158" />
            <source>{path} is not georeferenced (no CRS, geotransform or ground control points): the outputs are not georeferenced either</source>
            <translation>{path} ist nicht georeferenziert (kein KBS, keine Geotransformation, keine Passpunkte): die Ausgaben sind es auch nicht</translation>
        </message>
        <message>
            <location filename="../glnet_core/messages.py" line="161" />
            <source>resuming: {done} of {total} window already done</source>
            <translation>Fortsetzung: {done} von {total} Fenster bereits fertig</translation>
        </message>
        <message>
            <location filename="../glnet_core/messages.py" line="161" />
            <source>resuming: {done} of {total} windows already done</source>
            <translation>Fortsetzung: {done} von {total} Fenstern bereits fertig</translation>
        </message>
        <message>
            <location filename="../glnet_core/messages.py" line="164" />
            <source>Dask cluster {address}: {workers} on {hosts}</source>
            <translation>Dask-Cluster {address}: {workers} auf {hosts}</translation>
        </message>
        <message>
            <location filename="../glnet_core/messages.py" line="166" />
            <source>{count} worker</source>
            <translation>{count} Worker</translation>
        </message>
        <message>
            <location filename="../glnet_core/messages.py" line="166" />
            <source>{count} workers</source>
            <translation>{count} Worker</translation>
        </message>
        <message>
            <location filename="../glnet_core/messages.py" line="168" />
            <source>{count} host</source>
            <translation>{count} Rechner</translation>
        </message>
        <message>
            <location filename="../glnet_core/messages.py" line="168" />
            <source>{count} hosts</source>
            <translation>{count} Rechnern</translation>
        </message>
        <message>
            <location filename="../glnet_core/messages.py" line="170" />
            <source>onnxruntime providers: {providers}</source>
            <translation>onnxruntime-Anbieter: {providers}</translation>
        </message>
        <message>
            <location filename="../glnet_core/messages.py" line="172" />
            <source>minimum mapping unit {area:g} m2: regions under {pixels} px merged into their neighbours</source>
            <translation>Mindestkartierfläche {area:g} m²: Flächen unter {pixels} px mit ihren Nachbarn verschmolzen</translation>
        </message>
        <message>
            <location filename="../glnet_core/messages.py" line="174" />
            <source>warning: {warning}</source>
            <translation>Warnung: {warning}</translation>
        </message>
        <message>
            <location filename="../glnet_core/messages.py" line="176" />
            <source>{count} polygon written to {path}</source>
            <translation>{count} Polygon nach {path} geschrieben</translation>
        </message>
        <message>
            <location filename="../glnet_core/messages.py" line="176" />
            <source>{count} polygons written to {path}</source>
            <translation>{count} Polygone nach {path} geschrieben</translation>
        </message>
        <message>
            <location filename="../glnet_core/messages.py" line="178" />
            <source>{mask} has no class names (no category names in {sidecar}); using class_&lt;id&gt;; pass --model BUNDLE for the model's names</source>
            <translation>{mask} hat keine Klassennamen (keine Kategorienamen in {sidecar}); verwende class_&lt;id&gt;; mit --model BUNDLE gelten die Namen des Modells</translation>
        </message>
        <message>
            <location filename="../glnet_core/messages.py" line="181" />
            <source>class id {ids} has no name; using class_&lt;id&gt;</source>
            <translation>Klassen-ID {ids} hat keinen Namen; verwende class_&lt;id&gt;</translation>
        </message>
        <message>
            <location filename="../glnet_core/messages.py" line="181" />
            <source>class ids {ids} have no name; using class_&lt;id&gt;</source>
            <translation>Klassen-IDs {ids} haben keinen Namen; verwende class_&lt;id&gt;</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/base.py" line="102" />
            <source>Parameters</source>
            <translation>Parameter</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/base.py" line="102" />
            <source>Outputs</source>
            <translation>Ausgaben</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/base.py" line="107" />
            <source>More in the README: {link}</source>
            <translation>Mehr dazu im README: {link}</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/base.py" line="138" />
            <source>Window {window} of {total}</source>
            <translation>Fenster {window} von {total}</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/base.py" line="156" />
            <source>{what}: the raster layer cannot be opened</source>
            <translation>{what}: Der Rasterlayer lässt sich nicht öffnen</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/base.py" line="159" />
            <source>{what}: glnet reads raster files through GDAL; layer '{name}' comes from the '{provider}' data provider. Save it as a GeoTIFF first.</source>
            <translation>{what}: glnet liest Rasterdateien über GDAL; der Layer '{name}' stammt vom Datenanbieter '{provider}'. Speichern Sie ihn zuerst als GeoTIFF.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/base.py" line="240" />
            <source>Land-cover segmentation</source>
            <translation>Landbedeckungs-Segmentierung</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/base.py" line="241" />
            <source>Land-cover analysis</source>
            <translation>Landbedeckungs-Analyse</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/base.py" line="242" />
            <source>Models</source>
            <translation>Modelle</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/base.py" line="320" />
            <location filename="../glnet_plugin/algorithms/train.py" line="381" />
            <source>Cancelled; no output was written.</source>
            <translation>Abgebrochen; es wurde keine Ausgabe geschrieben.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/base.py" line="326" />
            <source>glnet cannot run: the Python module '{module}' is missing in QGIS's Python. See the README for installing the plugin's dependencies.</source>
            <translation>glnet kann nicht laufen: Das Python-Modul '{module}' fehlt im Python von QGIS. Wie die Abhängigkeiten des Plugins installiert werden, steht im README.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="31" />
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="102" />
            <location filename="../glnet_plugin/algorithms/train.py" line="195" />
            <location filename="../glnet_plugin/algorithms/train.py" line="256" />
            <location filename="../glnet_plugin/algorithms/zonal_stats.py" line="68" />
            <source>Class table</source>
            <translation>Klassentabelle</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="45" />
            <source>{what}: glnet reads vector files through OGR; layer '{name}' comes from the '{provider}' data provider. Save it as a GeoPackage first.</source>
            <translation>{what}: glnet liest Vektordateien über OGR; der Layer '{name}' stammt vom Datenanbieter '{provider}'. Speichern Sie ihn zuerst als GeoPackage.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="69" />
            <source>Evaluate a land-cover mask</source>
            <translation>Landbedeckungsmaske bewerten</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="72" />
            <source>Per-class IoU, precision, recall, F1, mIoU and the confusion matrix against a reference.</source>
            <translation>IoU, Präzision, Trefferquote und F1 je Klasse, mIoU und die Konfusionsmatrix gegenüber einer Referenz.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="75" />
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="97" />
            <source>Predicted mask</source>
            <translation>Vorhergesagte Maske</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="76" />
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="98" />
            <source>Reference layer</source>
            <translation>Referenzlayer</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="78" />
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="101" />
            <location filename="../glnet_plugin/algorithms/train.py" line="193" />
            <location filename="../glnet_plugin/algorithms/train.py" line="254" />
            <source>Class field</source>
            <translation>Klassenfeld</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="82" />
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="104" />
            <source>Classes to ignore</source>
            <translation>Ignorierte Klassen</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="84" />
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="106" />
            <source>Scores (JSON)</source>
            <translation>Bewertung (JSON)</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="84" />
            <source>JSON files</source>
            <translation>JSON-Dateien</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="86" />
            <source>mIoU</source>
            <translation>mIoU</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="87" />
            <source>Overall accuracy</source>
            <translation>Gesamtgenauigkeit</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="88" />
            <source>Pixels evaluated</source>
            <translation>Bewertete Pixel</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="92" />
            <source>Compares a predicted class mask with a reference, as the command 'glnet evaluate' does, and reports per class IoU = TP / (TP + FP + FN), precision, recall and F1, the mIoU (mean IoU over the classes that are not ignored and occur in either), the overall accuracy and the confusion matrix (rows: reference, columns: prediction) in the log. Pixels that are nodata in either are not counted.</source>
            <translation>Vergleicht eine vorhergesagte Klassenmaske mit einer Referenz, wie es der Befehl 'glnet evaluate' tut, und gibt im Protokoll je Klasse IoU = TP / (TP + FP + FN), Präzision, Trefferquote und F1 aus, dazu die mIoU (mittlere IoU über die Klassen, die nicht ausgeschlossen sind und in einer der beiden vorkommen), die Gesamtgenauigkeit und die Konfusionsmatrix (Zeilen: Referenz, Spalten: Vorhersage). Pixel, die in einer der beiden NoData sind, zählen nicht.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="97" />
            <location filename="../glnet_plugin/algorithms/zonal_stats.py" line="65" />
            <source>A class mask (one band of class ids, 255 = nodata).</source>
            <translation>Eine Klassenmaske (ein Kanal mit Klassen-IDs, 255 = NoData).</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="98" />
            <source>A class raster (values decoded through the class table), an RGB colour mask (DeepGlobe style), or a polygon layer, rasterized at pixel centres. A reference on another grid is resampled onto the mask's (nearest neighbour).</source>
            <translation>Ein Klassenraster (Werte über die Klassentabelle gelesen), eine RGB-Farbmaske (wie bei DeepGlobe) oder ein Polygonlayer, an den Pixelmitten gerastert. Eine Referenz auf einem anderen Raster wird auf das der Maske umgerechnet (nächster Nachbar).</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="101" />
            <source>For a vector reference: the attribute holding class ids or class names.</source>
            <translation>Bei einer Vektorreferenz: das Attribut mit Klassen-IDs oder Klassennamen.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="102" />
            <location filename="../glnet_plugin/algorithms/zonal_stats.py" line="68" />
            <source>deepglobe, inria, a class count or a JSON class table; by default the class names glnet stored with the mask.</source>
            <translation>deepglobe, inria, eine Klassenanzahl oder eine JSON-Klassentabelle; standardmäßig die Klassennamen, die glnet mit der Maske gespeichert hat.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="104" />
            <source>Class names not scored, comma-separated, besides those the table marks as ignored.</source>
            <translation>Klassennamen, die nicht bewertet werden, durch Kommas getrennt, zusätzlich zu denen, die die Tabelle als ignoriert kennzeichnet.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="106" />
            <source>Optional: every figure and the confusion matrix as JSON.</source>
            <translation>Optional: alle Kennzahlen und die Konfusionsmatrix als JSON.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="108" />
            <source>mIoU, overall accuracy, pixels evaluated</source>
            <translation>mIoU, Gesamtgenauigkeit, bewertete Pixel</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="108" />
            <source>Numbers for use in models.</source>
            <translation>Zahlen zur Weiterverwendung in Modellen.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="115" />
            <source>Predicted land-cover mask</source>
            <translation>Vorhergesagte Landbedeckungsmaske</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="118" />
            <source>Reference: the layer cannot be opened</source>
            <translation>Referenz: Der Layer lässt sich nicht öffnen</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="121" />
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="123" />
            <source>Reference</source>
            <translation>Referenz</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/evaluate.py" line="136" />
            <source>{n} reference pixels hold a value or colour that is not in the class table; they were counted as nodata</source>
            <translation>{n} Referenzpixel haben einen Wert oder eine Farbe, die nicht in der Klassentabelle steht; sie wurden als NoData gezählt</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/model_info.py" line="36" />
            <source>Model bundle information</source>
            <translation>Informationen zum Modellpaket</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/model_info.py" line="39" />
            <source>Checks a GLNet model bundle and describes its model, classes and graphs.</source>
            <translation>Prüft ein GLNet-Modellpaket und beschreibt sein Modell, seine Klassen und Graphen.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/model_info.py" line="43" />
            <source>Description</source>
            <translation>Beschreibung</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/model_info.py" line="44" />
            <source>Model name</source>
            <translation>Modellname</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/model_info.py" line="45" />
            <source>Class names</source>
            <translation>Klassennamen</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/model_info.py" line="46" />
            <source>Number of classes</source>
            <translation>Anzahl der Klassen</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/model_info.py" line="47" />
            <source>Inference modes</source>
            <translation>Inferenzmodi</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/model_info.py" line="48" />
            <source>Resolution (m/px)</source>
            <translation>Auflösung (m/px)</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/model_info.py" line="52" />
            <source>Checks a GLNet model bundle, as the command 'glnet info' does, and writes to the log what it holds: the model and its configuration, the classes with their colours, the window geometry, the input bands and normalisation, the inference modes and precision, each ONNX graph with its size, where the model came from and how well its export was verified. A damaged bundle (a graph file changed, truncated or missing; an invalid manifest) is an error.</source>
            <translation>Prüft ein GLNet-Modellpaket, wie es der Befehl 'glnet info' tut, und schreibt ins Protokoll, was es enthält: das Modell und seine Konfiguration, die Klassen mit ihren Farben, die Fenstergeometrie, die Eingangskanäle und die Normalisierung, die Inferenzmodi und die Genauigkeit, jeden ONNX-Graphen mit seiner Größe, die Herkunft des Modells und wie gut sein Export überprüft wurde. Ein beschädigtes Paket (eine Graphdatei verändert, abgeschnitten oder fehlend; ein ungültiges Manifest) ist ein Fehler.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/model_info.py" line="57" />
            <location filename="../glnet_plugin/algorithms/segment.py" line="51" />
            <location filename="../glnet_plugin/algorithms/segment.py" line="124" />
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="70" />
            <source>Model bundle</source>
            <translation>Modellpaket</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/model_info.py" line="57" />
            <source>The manifest.json inside a NAME.glnet folder, or a zip of such a folder.</source>
            <translation>Die manifest.json in einem Ordner NAME.glnet oder ein Zip eines solchen Ordners.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/model_info.py" line="58" />
            <source>Description, model name, classes, modes, resolution</source>
            <translation>Beschreibung, Modellname, Klassen, Modi, Auflösung</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/model_info.py" line="58" />
            <source>Texts and numbers for use in models: the class names and the inference modes comma-separated (classes in id order), the model's ground resolution in m/px (empty when not set).</source>
            <translation>Texte und Zahlen zur Weiterverwendung in Modellen: die Klassennamen und die Inferenzmodi durch Kommas getrennt (Klassen in ID-Reihenfolge), die Bodenauflösung des Modells in m/px (leer, wenn nicht festgelegt).</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="54" />
            <location filename="../glnet_plugin/algorithms/train.py" line="206" />
            <location filename="../glnet_plugin/algorithms/train.py" line="214" />
            <source>All files</source>
            <translation>Alle Dateien</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="54" />
            <source>GLNet model bundles</source>
            <translation>GLNet-Modellpakete</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="81" />
            <source>Segment land cover (GLNet)</source>
            <translation>Landbedeckung segmentieren (GLNet)</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="84" />
            <source>Segments a raster of any size into land-cover classes with a GLNet model bundle.</source>
            <translation>Segmentiert ein Raster beliebiger Größe mit einem GLNet-Modellpaket in Landbedeckungsklassen.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="87" />
            <location filename="../glnet_plugin/algorithms/segment.py" line="122" />
            <location filename="../glnet_plugin/algorithms/segment.py" line="209" />
            <source>Input raster</source>
            <translation>Eingaberaster</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="90" />
            <location filename="../glnet_plugin/algorithms/segment.py" line="126" />
            <source>Inference mode</source>
            <translation>Inferenzmodus</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="92" />
            <location filename="../glnet_plugin/algorithms/segment.py" line="128" />
            <location filename="../glnet_plugin/algorithms/train.py" line="220" />
            <location filename="../glnet_plugin/algorithms/train.py" line="274" />
            <source>Device</source>
            <translation>Gerät</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="94" />
            <location filename="../glnet_plugin/algorithms/segment.py" line="131" />
            <source>Bands (red, green, blue)</source>
            <translation>Kanäle (Rot, Grün, Blau)</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="97" />
            <location filename="../glnet_plugin/algorithms/segment.py" line="134" />
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="53" />
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="73" />
            <source>Minimum area (m²)</source>
            <translation>Mindestfläche (m²)</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="99" />
            <location filename="../glnet_plugin/algorithms/segment.py" line="137" />
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="55" />
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="76" />
            <source>Simplify tolerance (m)</source>
            <translation>Vereinfachungstoleranz (m)</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="101" />
            <location filename="../glnet_plugin/algorithms/segment.py" line="140" />
            <source>Dask scheduler</source>
            <translation>Dask-Scheduler</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="105" />
            <location filename="../glnet_plugin/algorithms/segment.py" line="148" />
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="49" />
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="68" />
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="89" />
            <location filename="../glnet_plugin/algorithms/zonal_stats.py" line="49" />
            <location filename="../glnet_plugin/algorithms/zonal_stats.py" line="65" />
            <location filename="../glnet_plugin/algorithms/zonal_stats.py" line="79" />
            <source>Land-cover mask</source>
            <translation>Landbedeckungsmaske</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="107" />
            <location filename="../glnet_plugin/algorithms/segment.py" line="150" />
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="57" />
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="79" />
            <source>Land-cover polygons</source>
            <translation>Landbedeckungspolygone</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="110" />
            <location filename="../glnet_plugin/algorithms/segment.py" line="152" />
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="51" />
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="71" />
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="92" />
            <source>Confidence raster</source>
            <translation>Konfidenzraster</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="112" />
            <location filename="../glnet_plugin/algorithms/segment.py" line="155" />
            <source>Execution providers</source>
            <translation>Ausführungsanbieter</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="116" />
            <source>Segments a raster of any size into land-cover classes with a GLNet model bundle, as the command 'glnet segment' does. The raster is cut into overlapping GLNet windows; in each, the global branch sees the whole window downsampled and the local branch full-resolution patches. The mask is written on the input's grid (same CRS, extent and pixel size) with the classes' colours and names; nodata and transparent pixels stay nodata (255).</source>
            <translation>Segmentiert ein Raster beliebiger Größe mit einem GLNet-Modellpaket in Landbedeckungsklassen, wie es der Befehl 'glnet segment' tut. Das Raster wird in überlappende GLNet-Fenster zerlegt; in jedem sieht der globale Zweig das ganze Fenster verkleinert und der lokale Zweig Ausschnitte in voller Auflösung. Die Maske wird auf dem Raster der Eingabe geschrieben (gleiches KBS, gleiche Ausdehnung und Pixelgröße), mit den Farben und Namen der Klassen; NoData- und transparente Pixel bleiben NoData (255).</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="122" />
            <source>Any raster GDAL reads, of any size: 8-bit, 16-bit or float bands. Three bands, or three and alpha, are used as red, green, blue.</source>
            <translation>Jedes Raster, das GDAL liest, in beliebiger Größe: 8-Bit-, 16-Bit- oder Gleitkommakanäle. Drei Kanäle, oder drei und Alpha, werden als Rot, Grün, Blau verwendet.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="124" />
            <source>An exported GLNet model: the manifest.json inside a NAME.glnet folder, or a zip of such a folder (see 'glnet export').</source>
            <translation>Ein exportiertes GLNet-Modell: die manifest.json in einem Ordner NAME.glnet oder ein Zip eines solchen Ordners (siehe 'glnet export').</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="126" />
            <source>full: GLNet with its local-to-global pass (best); g2l: global-to-local only (faster).</source>
            <translation>full: GLNet mit dem Durchgang vom Lokalen zum Globalen (am besten); g2l: nur vom Globalen zum Lokalen (schneller).</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="128" />
            <source>auto: CUDA when onnxruntime-gpu and a GPU work, else the CPU; cpu; cuda (an error without a working CUDA). The log names the onnxruntime providers that ran.</source>
            <translation>auto: CUDA, wenn onnxruntime-gpu und eine GPU funktionieren, sonst die CPU; cpu; cuda (ein Fehler ohne funktionierendes CUDA). Das Protokoll nennt die onnxruntime-Anbieter, die liefen.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="131" />
            <source>The raster bands (1-based) to feed the model's red, green and blue inputs, in that order; needed when the raster has another band count.</source>
            <translation>Die Rasterkanäle (ab 1 gezählt) für den roten, grünen und blauen Eingang des Modells, in dieser Reihenfolge; nötig, wenn das Raster eine andere Kanalanzahl hat.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="134" />
            <source>Minimum mapping unit: regions smaller than this many square metres are merged into their neighbours, in the mask and the polygons alike. 0: off.</source>
            <translation>Mindestkartierfläche: Gebiete, die kleiner als so viele Quadratmeter sind, werden mit ihren Nachbarn verschmolzen, in der Maske wie in den Polygonen. 0: aus.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="137" />
            <source>Douglas-Peucker tolerance in metres for the polygons' shared boundaries (no gaps or overlaps appear). 0: the exact pixel edges.</source>
            <translation>Douglas-Peucker-Toleranz in Metern für die gemeinsamen Grenzen der Polygone (es entstehen weder Lücken noch Überlappungen). 0: die exakten Pixelkanten.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="140" />
            <source>Advanced. Empty: the windows run here, in QGIS. tcp://HOST:PORT or the path of a scheduler file (dask scheduler --scheduler-file): the windows run as tasks on that Dask cluster's workers, which must reach the input raster and the model bundle at the same paths and run glnet with Dask {version}; QGIS still writes the outputs, the same bytes as a run in QGIS. local:N is not offered inside QGIS (use the command line). Dask is installed on request: the desktop offers it when this is set.</source>
            <translation>Erweitert. Leer: die Fenster werden hier, in QGIS, gerechnet. tcp://HOST:PORT oder der Pfad einer Scheduler-Datei (dask scheduler --scheduler-file): die Fenster laufen als Aufgaben auf den Workern dieses Dask-Clusters, die das Eingaberaster und das Modellpaket unter denselben Pfaden erreichen und glnet mit Dask {version} ausführen müssen; QGIS schreibt die Ausgaben weiterhin selbst, dieselben Bytes wie bei einem Lauf in QGIS. local:N wird in QGIS nicht angeboten (dafür gibt es die Kommandozeile). Dask wird auf Wunsch installiert: die Desktop-Anwendung bietet es an, wenn dieser Parameter gesetzt ist.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="148" />
            <source>GeoTIFF of class ids (255 = nodata) with a style file NAME.qml beside it: the classes' colours and labels.</source>
            <translation>GeoTIFF mit Klassen-IDs (255 = NoData) und der Stildatei NAME.qml daneben: Farben und Bezeichnungen der Klassen.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="150" />
            <source>Optional: the mask as polygons with class_id, class_name, class_label, area_m2 (and confidence), styled by class.</source>
            <translation>Optional: die Maske als Polygone mit class_id, class_name, class_label, area_m2 (und confidence), nach Klasse gestaltet.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="152" />
            <source>Optional: GeoTIFF of the top class probability in percent (0-100, 255 = nodata).</source>
            <translation>Optional: GeoTIFF der Wahrscheinlichkeit der wahrscheinlichsten Klasse in Prozent (0-100, 255 = NoData).</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="155" />
            <source>The onnxruntime execution providers that ran, e.g. CPUExecutionProvider.</source>
            <translation>Die onnxruntime-Ausführungsanbieter, die gelaufen sind, z. B. CPUExecutionProvider.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="195" />
            <source>{label}: local:N is not offered inside QGIS (it would start worker processes from the QGIS program); start 'dask scheduler' and 'dask worker' and give the scheduler's address, or leave it empty to run in QGIS</source>
            <translation>{label}: local:N wird in QGIS nicht angeboten (es würde Worker-Prozesse aus dem QGIS-Programm starten); starten Sie 'dask scheduler' und 'dask worker' und geben Sie die Adresse des Schedulers an, oder lassen Sie das Feld leer, um in QGIS zu rechnen</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="239" />
            <source>Done: {windows}, {patches} in {seconds:.1f} s; onnxruntime providers: {providers}</source>
            <translation>Fertig: {windows}, {patches} in {seconds:.1f} s; onnxruntime-Anbieter: {providers}</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="240" />
            <source>{n} window</source>
            <translation>{n} Fenster</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="240" />
            <source>{n} windows</source>
            <translation>{n} Fenster</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="240" />
            <source>{n} patch</source>
            <translation>{n} Ausschnitt</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/segment.py" line="240" />
            <source>{n} patches</source>
            <translation>{n} Ausschnitte</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="82" />
            <source>Settings &gt; Options &gt; Processing &gt; Providers &gt; {provider} &gt; {setting}</source>
            <translation>Einstellungen &gt; Optionen &gt; Verarbeitung &gt; Anbieter &gt; {provider} &gt; {setting}</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="83" />
            <location filename="../glnet_plugin/dependency_dialog.py" line="52" />
            <location filename="../glnet_plugin/dependency_dialog.py" line="55" />
            <location filename="../glnet_plugin/dependency_dialog.py" line="82" />
            <location filename="../glnet_plugin/dependency_dialog.py" line="118" />
            <location filename="../glnet_plugin/dependency_dialog.py" line="122" />
            <location filename="../glnet_plugin/plugin.py" line="78" />
            <location filename="../glnet_plugin/provider.py" line="32" />
            <source>GLNet land cover</source>
            <translation>GLNet-Landbedeckung</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="83" />
            <location filename="../glnet_plugin/provider.py" line="53" />
            <source>Python environment for training</source>
            <translation>Python-Umgebung für das Training</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="109" />
            <source>Training needs a Python environment with torch and glnet (QGIS's own Python has no torch). Create one with: {create} ; then enter its folder ({folder}) in {path}, or set the environment variable {variable} for qgis_process.</source>
            <translation>Das Training braucht eine Python-Umgebung mit torch und glnet (das Python von QGIS hat kein torch). Legen Sie eine an mit: {create} ; tragen Sie dann ihren Ordner ({folder}) unter {path} ein oder setzen Sie für qgis_process die Umgebungsvariable {variable}.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="120" />
            <source>The Python environment for training, {path}, does not exist.</source>
            <translation>Die Python-Umgebung für das Training, {path}, existiert nicht.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="121" />
            <source>The Python environment for training, {path}, is a folder without bin/python (not a virtual environment).</source>
            <translation>Die Python-Umgebung für das Training, {path}, ist ein Ordner ohne bin/python (keine virtuelle Umgebung).</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="123" />
            <source>The Python environment for training, {path}, is not an executable Python interpreter.</source>
            <translation>Die Python-Umgebung für das Training, {path}, ist kein ausführbarer Python-Interpreter.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="124" />
            <source>The Python environment for training, {path}, does not run: {detail}.</source>
            <translation>Die Python-Umgebung für das Training, {path}, läuft nicht: {detail}.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="125" />
            <source>The Python environment for training, {path}, cannot import torch ({detail}); install it there: {pip} install torch=={torch} {glnet}.</source>
            <translation>Die Python-Umgebung für das Training, {path}, kann torch nicht importieren ({detail}); installieren Sie es dort: {pip} install torch=={torch} {glnet}.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="127" />
            <source>The Python environment for training, {path}, cannot import glnet's training command ({detail}); install it there: {pip} install {glnet}.</source>
            <translation>Die Python-Umgebung für das Training, {path}, kann den Trainingsbefehl von glnet nicht importieren ({detail}); installieren Sie ihn dort: {pip} install {glnet}.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="133" />
            <source>Set it in {path}.</source>
            <translation>Legen Sie sie fest unter {path}.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="183" />
            <source>Train a land-cover model (GLNet)</source>
            <translation>Landbedeckungsmodell trainieren (GLNet)</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="186" />
            <source>Trains a GLNet on orthophotos labelled by polygons and exports it as a model bundle.</source>
            <translation>Trainiert ein GLNet auf Orthofotos, deren Klassen als Polygone vorliegen, und exportiert es als Modellpaket.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="189" />
            <location filename="../glnet_plugin/algorithms/train.py" line="246" />
            <source>Orthophotos</source>
            <translation>Orthofotos</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="191" />
            <location filename="../glnet_plugin/algorithms/train.py" line="249" />
            <source>Label polygons</source>
            <translation>Klassenpolygone</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="198" />
            <location filename="../glnet_plugin/algorithms/train.py" line="258" />
            <source>Background class</source>
            <translation>Hintergrundklasse</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="201" />
            <location filename="../glnet_plugin/algorithms/train.py" line="260" />
            <source>Network configuration</source>
            <translation>Netzkonfiguration</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="204" />
            <location filename="../glnet_plugin/algorithms/train.py" line="263" />
            <source>Start checkpoint</source>
            <translation>Start-Checkpoint</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="206" />
            <location filename="../glnet_plugin/algorithms/train.py" line="231" />
            <source>GLNet checkpoints</source>
            <translation>GLNet-Checkpoints</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="208" />
            <location filename="../glnet_plugin/algorithms/train.py" line="265" />
            <source>Epochs per stage</source>
            <translation>Epochen je Stufe</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="212" />
            <location filename="../glnet_plugin/algorithms/train.py" line="267" />
            <source>Backbone weights</source>
            <translation>Backbone-Gewichte</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="214" />
            <source>PyTorch weights</source>
            <translation>PyTorch-Gewichte</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="215" />
            <location filename="../glnet_plugin/algorithms/train.py" line="269" />
            <source>Freeze the backbone</source>
            <translation>Backbone einfrieren</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="216" />
            <location filename="../glnet_plugin/algorithms/train.py" line="270" />
            <source>Stages to train</source>
            <translation>Zu trainierende Stufen</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="218" />
            <location filename="../glnet_plugin/algorithms/train.py" line="272" />
            <source>Validation fraction</source>
            <translation>Validierungsanteil</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="222" />
            <location filename="../glnet_plugin/algorithms/train.py" line="276" />
            <source>Bundle precision</source>
            <translation>Genauigkeit des Modellpakets</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="225" />
            <location filename="../glnet_plugin/algorithms/train.py" line="277" />
            <source>Resume an interrupted run</source>
            <translation>Unterbrochenen Lauf fortsetzen</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="231" />
            <location filename="../glnet_plugin/algorithms/train.py" line="281" />
            <source>Output checkpoint</source>
            <translation>Ausgabe-Checkpoint</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="232" />
            <location filename="../glnet_plugin/algorithms/train.py" line="282" />
            <source>Output model bundle</source>
            <translation>Ausgabe-Modellpaket</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="234" />
            <location filename="../glnet_plugin/algorithms/train.py" line="285" />
            <source>Model bundle manifest</source>
            <translation>Manifest des Modellpakets</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="238" />
            <source>Trains a GLNet land-cover model on orthophotos whose classes are drawn as polygons, as the command 'glnet train --images ... --labels ...' does, then exports it as a model bundle for 'Segment land cover' ('glnet export'). QGIS's Python has no PyTorch, so training runs in the Python environment named in {path} (or the environment variable {variable}); without one, the algorithm says how to create it. The log shows each stage and epoch; Cancel stops the run and keeps the checkpoint of the last finished epoch, and 'Resume' continues it.</source>
            <translation>Trainiert ein GLNet-Landbedeckungsmodell auf Orthofotos, deren Klassen als Polygone gezeichnet sind, wie es der Befehl 'glnet train --images ... --labels ...' tut, und exportiert es dann als Modellpaket für 'Landbedeckung segmentieren' ('glnet export'). Das Python von QGIS hat kein PyTorch, daher läuft das Training in der Python-Umgebung, die unter {path} eingetragen ist (oder in der Umgebungsvariable {variable}); fehlt sie, sagt der Algorithmus, wie man sie anlegt. Das Protokoll zeigt jede Stufe und Epoche; Abbrechen hält den Lauf an und behält den Checkpoint der letzten abgeschlossenen Epoche, 'Fortsetzen' setzt ihn fort.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="246" />
            <source>One or more rasters GDAL reads (three bands, or three and alpha). Each is cut into areas of at most one window; the areas the polygons reach are trained on.</source>
            <translation>Ein oder mehrere Raster, die GDAL liest (drei Kanäle, oder drei und Alpha). Jedes wird in Gebiete von höchstens einem Fenster geteilt; trainiert wird auf den Gebieten, die die Polygone erreichen.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="249" />
            <source>A polygon layer of any CRS (reprojected to each raster). Pixels whose centre lies in a polygon get its class; where polygons overlap, the later feature wins. Layers that are not plain files (memory layers, filtered layers) are written to a GeoPackage beside the checkpoint first (CHECKPOINT.labels.gpkg); it is removed when training finishes.</source>
            <translation>Ein Polygonlayer in beliebigem KBS (auf jedes Raster umprojiziert). Pixel, deren Mittelpunkt in einem Polygon liegt, erhalten dessen Klasse; wo sich Polygone überlappen, gewinnt das spätere Objekt. Layer, die keine einfachen Dateien sind (Speicherlayer, gefilterte Layer), werden zuerst in ein GeoPackage neben dem Checkpoint geschrieben (CHECKPOINT.labels.gpkg); es wird entfernt, wenn das Training abgeschlossen ist.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="254" />
            <source>The field holding each polygon's class: class names of the class table, or class ids (whole numbers) when the field is an integer.</source>
            <translation>Das Feld mit der Klasse jedes Polygons: Klassennamen der Klassentabelle oder Klassen-IDs (ganze Zahlen), wenn das Feld ganzzahlig ist.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="256" />
            <source>deepglobe, inria, or a TABLE.json. Empty: one class per distinct value of the class field.</source>
            <translation>deepglobe, inria oder eine TABLE.json. Leer: eine Klasse je unterschiedlichem Wert des Klassenfelds.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="258" />
            <source>The class of pixels outside every polygon: a class name or id given to unlabelled pixels; empty: the loss ignores them.</source>
            <translation>Die Klasse der Pixel außerhalb aller Polygone: ein Klassenname oder eine ID für unbeschriftete Pixel; leer: der Verlust ignoriert sie.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="260" />
            <source>tiny: tests; lite: CPU-sized; resnet18: torchvision's ResNet-18 (can start from ImageNet weights); paper: the published ResNet-50 network. Ignored when a start checkpoint is given.</source>
            <translation>tiny: Tests; lite: für die CPU bemessen; resnet18: das ResNet-18 von torchvision (kann mit ImageNet-Gewichten starten); paper: das veröffentlichte ResNet-50-Netz. Wird ignoriert, wenn ein Start-Checkpoint angegeben ist.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="263" />
            <source>Continue training a model (its architecture and classes) instead of starting from random weights.</source>
            <translation>Ein Modell (seine Architektur und Klassen) weitertrainieren, statt mit Zufallsgewichten zu beginnen.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="265" />
            <source>One number for every stage, or three for global, g2l and l2g (N,N,N). Empty: the published 120, 50 and 120.</source>
            <translation>Eine Zahl für jede Stufe oder drei für global, g2l und l2g (N,N,N). Leer: die veröffentlichten 120, 50 und 120.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="267" />
            <source>Advanced. torchvision's ImageNet weights for the backbone (resnet18: resnet18-f37072fd.pth; paper: resnet50).</source>
            <translation>Erweitert. Die ImageNet-Gewichte von torchvision für das Backbone (resnet18: resnet18-f37072fd.pth; paper: resnet50).</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="269" />
            <source>Advanced. Train only the network after the backbone.</source>
            <translation>Erweitert. Nur das Netz nach dem Backbone trainieren.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="270" />
            <source>Advanced. all (the default), or one of global, g2l (global to local), l2g (local to global).</source>
            <translation>Erweitert. all (Standard) oder eine von global, g2l (global zu lokal), l2g (lokal zu global).</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="272" />
            <source>Advanced. The fraction of the labelled areas held out to score each epoch (0: no validation).</source>
            <translation>Erweitert. Der Anteil der beschrifteten Gebiete, der zurückgehalten wird, um jede Epoche zu bewerten (0: keine Validierung).</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="274" />
            <source>Advanced. auto: CUDA when the training environment's PyTorch has a GPU, else the CPU.</source>
            <translation>Erweitert. auto: CUDA, wenn das PyTorch der Trainingsumgebung eine GPU hat, sonst die CPU.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="276" />
            <source>Advanced. fp32; fp16 (half the size); fp16-gpu (for CUDA GPUs).</source>
            <translation>Erweitert. fp32; fp16 (halbe Größe); fp16-gpu (für CUDA-GPUs).</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="277" />
            <source>Advanced. Continue the interrupted (cancelled) run saved in the output checkpoint: its data and options come from the checkpoint, so only the device is used of the parameters above.</source>
            <translation>Erweitert. Den unterbrochenen (abgebrochenen) Lauf im Ausgabe-Checkpoint fortsetzen: seine Daten und Optionen stammen aus dem Checkpoint, daher wird von den Parametern oben nur das Gerät verwendet.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="281" />
            <source>The training checkpoint (.ckpt), rewritten after every epoch.</source>
            <translation>Der Trainings-Checkpoint (.ckpt), nach jeder Epoche neu geschrieben.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="282" />
            <source>The exported NAME.glnet folder (a new or empty folder, or a bundle to replace).</source>
            <translation>Der exportierte Ordner NAME.glnet (ein neuer oder leerer Ordner oder ein zu ersetzendes Modellpaket).</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="285" />
            <source>The bundle's manifest.json: connect it to 'Segment land cover' in a model.</source>
            <translation>Die manifest.json des Pakets: verbinden Sie sie in einem Modell mit 'Landbedeckung segmentieren'.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="342" />
            <source>{what}: the vector layer cannot be opened</source>
            <translation>{what}: Der Vektorlayer lässt sich nicht öffnen</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="350" />
            <source>Writing the label polygons of layer '{name}' to {path}</source>
            <translation>Die Klassenpolygone des Layers '{name}' werden nach {path} geschrieben</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="354" />
            <source>{what}: layer '{name}' has no field '{field}'</source>
            <translation>{what}: Layer '{name}' hat kein Feld '{field}'</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="368" />
            <source>Cannot write {path}: {message}</source>
            <translation>{path} kann nicht geschrieben werden: {message}</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="392" />
            <source>Training environment: {python} (Python {version}, torch {torch}, glnet {glnet})</source>
            <translation>Trainingsumgebung: {python} (Python {version}, torch {torch}, glnet {glnet})</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="395" />
            <source>The training environment has glnet {theirs}, this plugin is glnet {ours}; install the same version there if an option is refused.</source>
            <translation>Die Trainingsumgebung hat glnet {theirs}, dieses Plugin ist glnet {ours}; installieren Sie dort dieselbe Version, falls eine Option abgelehnt wird.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="402" />
            <source>Give the output checkpoint and the output model bundle.</source>
            <translation>Geben Sie den Ausgabe-Checkpoint und das Ausgabe-Modellpaket an.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="409" />
            <source>Resuming the run saved in {checkpoint}: its data and options come from it.</source>
            <translation>Der in {checkpoint} gespeicherte Lauf wird fortgesetzt: seine Daten und Optionen stammen von dort.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="428" />
            <source>Cancelled; {checkpoint} holds the last finished epoch: run again with 'Resume' (RESUME) and the same output checkpoint to continue.</source>
            <translation>Abgebrochen; {checkpoint} enthält die letzte abgeschlossene Epoche: starten Sie erneut mit 'Fortsetzen' (RESUME) und demselben Ausgabe-Checkpoint, um weiterzumachen.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="431" />
            <source>Cancelled before the first epoch finished; no output was written.</source>
            <translation>Abgebrochen, bevor die erste Epoche abgeschlossen war; es wurde keine Ausgabe geschrieben.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="436" />
            <source>Exporting the model bundle</source>
            <translation>Das Modellpaket wird exportiert</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="441" />
            <source>Cancelled during the export; {checkpoint} holds the trained model: export it with 'glnet export'.</source>
            <translation>Während des Exports abgebrochen; {checkpoint} enthält das trainierte Modell: exportieren Sie es mit 'glnet export'.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="455" />
            <source>{what}: give at least one raster</source>
            <translation>{what}: Geben Sie mindestens ein Raster an</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="459" />
            <source>{what}: name the field holding the classes</source>
            <translation>{what}: Nennen Sie das Feld mit den Klassen</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="468" />
            <source>Starting from {init}: its architecture is used, the configuration '{config}' is ignored.</source>
            <translation>Start mit {init}: dessen Architektur wird verwendet, die Konfiguration '{config}' wird ignoriert.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="471" />
            <source>Choose a network configuration or a start checkpoint.</source>
            <translation>Wählen Sie eine Netzkonfiguration oder einen Start-Checkpoint.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="510" />
            <source>Cannot start {program}: {error}</source>
            <translation>{program} kann nicht gestartet werden: {error}</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/train.py" line="551" />
            <source>{what}: {path} exists and is not a model bundle; choose a new folder</source>
            <translation>{what}: {path} existiert und ist kein Modellpaket; wählen Sie einen neuen Ordner</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="43" />
            <source>Land-cover mask to polygons</source>
            <translation>Landbedeckungsmaske in Polygone</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="46" />
            <source>Turns a class mask into polygons, one per connected region of a class.</source>
            <translation>Wandelt eine Klassenmaske in Polygone um, eines je zusammenhängendem Gebiet einer Klasse.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="58" />
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="82" />
            <source>Number of polygons</source>
            <translation>Anzahl der Polygone</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="62" />
            <source>Turns a class mask (one band of class ids, 255 = nodata, as 'Segment land cover' writes it) into polygons that follow the pixel edges exactly, as the command 'glnet vectorize' does: one polygon per connected region of a class, holes kept, nodata left out, in the mask's CRS. Attributes: class_id, class_name, class_label, area_m2 (on the ellipsoid for geographic and Mercator CRSs) and, with a confidence raster, confidence. The layer is styled by class.</source>
            <translation>Wandelt eine Klassenmaske (ein Kanal mit Klassen-IDs, 255 = NoData, wie 'Landbedeckung segmentieren' sie schreibt) in Polygone um, die genau den Pixelkanten folgen, wie es der Befehl 'glnet vectorize' tut: ein Polygon je zusammenhängendem Gebiet einer Klasse, mit Löchern, ohne NoData, im KBS der Maske. Attribute: class_id, class_name, class_label, area_m2 (auf dem Ellipsoid bei geographischen und Mercator-KBS) und, mit einem Konfidenzraster, confidence. Der Layer wird nach Klasse gestaltet.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="68" />
            <source>A class mask GeoTIFF; class names, labels and colours come from the mask (glnet writes them) unless a model bundle is given.</source>
            <translation>Ein GeoTIFF mit Klassenmaske; Klassennamen, Bezeichnungen und Farben stammen aus der Maske (glnet schreibt sie hinein), außer es ist ein Modellpaket angegeben.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="70" />
            <source>Optional: take the class names, labels and colours from this bundle.</source>
            <translation>Optional: die Klassennamen, Bezeichnungen und Farben aus diesem Paket nehmen.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="71" />
            <source>Optional: the confidence GeoTIFF of the same run; adds each polygon's mean confidence.</source>
            <translation>Optional: das Konfidenz-GeoTIFF desselben Laufs; ergänzt die mittlere Konfidenz jedes Polygons.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="73" />
            <source>Minimum mapping unit: regions smaller than this many square metres are merged into their largest neighbour first (no gaps appear). 0: off.</source>
            <translation>Mindestkartierfläche: Gebiete, die kleiner als so viele Quadratmeter sind, werden zuerst mit ihrem größten Nachbarn verschmolzen (es entstehen keine Lücken). 0: aus.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="76" />
            <source>Douglas-Peucker tolerance in metres, applied to the shared boundaries so neighbours keep meeting without gaps or overlaps. 0: the exact pixel edges.</source>
            <translation>Douglas-Peucker-Toleranz in Metern, angewandt auf die gemeinsamen Grenzen, damit Nachbarn ohne Lücken oder Überlappungen aneinanderstoßen. 0: die exakten Pixelkanten.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="79" />
            <source>GeoPackage (with its default style), GeoJSON, FlatGeobuf or Shapefile.</source>
            <translation>GeoPackage (mit seinem Standardstil), GeoJSON, FlatGeobuf oder Shapefile.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="82" />
            <source>The number of polygons written, for use in models.</source>
            <translation>Die Anzahl der geschriebenen Polygone, zur Weiterverwendung in Modellen.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/vectorize.py" line="115" />
            <source>{count} polygons in {classes} classes written to {path}</source>
            <translation>{count} Polygone in {classes} Klassen nach {path} geschrieben</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/zonal_stats.py" line="43" />
            <source>Land-cover areas per zone</source>
            <translation>Landbedeckungsflächen je Zone</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/zonal_stats.py" line="46" />
            <source>Ground area and share of every land-cover class inside each zone polygon.</source>
            <translation>Bodenfläche und Anteil jeder Landbedeckungsklasse in jedem Zonenpolygon.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/zonal_stats.py" line="51" />
            <location filename="../glnet_plugin/algorithms/zonal_stats.py" line="66" />
            <source>Zones</source>
            <translation>Zonen</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/zonal_stats.py" line="53" />
            <location filename="../glnet_plugin/algorithms/zonal_stats.py" line="67" />
            <source>Zone field</source>
            <translation>Zonenfeld</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/zonal_stats.py" line="56" />
            <location filename="../glnet_plugin/algorithms/zonal_stats.py" line="70" />
            <source>Class areas per zone</source>
            <translation>Klassenflächen je Zone</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/zonal_stats.py" line="60" />
            <source>Measures, for each zone polygon, the ground area of every class of a class mask inside it, as the command 'glnet stats' does. A pixel belongs to a zone when its centre lies inside it; a pixel in overlapping zones counts in each. Areas are planar in projected CRSs and on the ellipsoid for geographic and Mercator CRSs; zones in another CRS are reprojected to the mask's.</source>
            <translation>Misst für jedes Zonenpolygon die Bodenfläche jeder Klasse einer Klassenmaske darin, wie es der Befehl 'glnet stats' tut. Ein Pixel gehört zu einer Zone, wenn seine Mitte darin liegt; ein Pixel in überlappenden Zonen zählt in jeder. Flächen sind eben in projizierten KBS und auf dem Ellipsoid in geographischen und Mercator-KBS; Zonen in einem anderen KBS werden in das der Maske umprojiziert.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/zonal_stats.py" line="66" />
            <source>Polygons (districts, parcels...).</source>
            <translation>Polygone (Stadtteile, Flurstücke ...).</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/zonal_stats.py" line="67" />
            <source>The attribute that names each zone; it is the first output column.</source>
            <translation>Das Attribut, das jede Zone benennt; es ist die erste Ausgabespalte.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/zonal_stats.py" line="70" />
            <source>One row per zone: the zone field, area_m2 (its valid area), and per class &lt;class&gt;_m2 and &lt;class&gt;_share (0-1). A .gpkg keeps the zones' geometries; a .csv is a table.</source>
            <translation>Eine Zeile je Zone: das Zonenfeld, area_m2 (ihre gültige Fläche) und je Klasse &lt;class&gt;_m2 und &lt;class&gt;_share (0-1). Ein .gpkg behält die Geometrien der Zonen; eine .csv ist eine Tabelle.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/algorithms/zonal_stats.py" line="94" />
            <source>{zones} zones x {classes} classes written to {path}</source>
            <translation>{zones} Zonen x {classes} Klassen nach {path} geschrieben</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/dependency_dialog.py" line="52" />
            <source>Python packages that glnet needs are missing.</source>
            <translation>Python-Pakete, die glnet braucht, fehlen.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/dependency_dialog.py" line="54" />
            <source>Details</source>
            <translation>Details</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/dependency_dialog.py" line="58" />
            <source>Install onnxruntime</source>
            <translation>onnxruntime installieren</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/dependency_dialog.py" line="83" />
            <source>Sending a run to a Dask scheduler needs Dask, which is not installed.</source>
            <translation>Ein Lauf auf einem Dask-Scheduler braucht Dask, das nicht installiert ist.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/dependency_dialog.py" line="84" />
            <source>Install Dask</source>
            <translation>Dask installieren</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/dependency_dialog.py" line="101" />
            <source>Install {what}</source>
            <translation>{what} installieren</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/dependency_dialog.py" line="102" />
            <source>glnet will run this command, which downloads {what} from PyPI into a folder used only by this plugin (QGIS's own packages, numpy included, are not touched):

{command}

Continue?</source>
            <translation>glnet führt diesen Befehl aus, der {what} von PyPI in einen Ordner lädt, den nur dieses Plugin verwendet (die Pakete von QGIS, auch numpy, bleiben unberührt):

{command}

Fortfahren?</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/dependency_dialog.py" line="118" />
            <source>{what} is installed; glnet is ready.</source>
            <translation>{what} ist installiert; glnet ist bereit.</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/dependency_dialog.py" line="122" />
            <source>Installing {what} failed: {error}</source>
            <translation>Die Installation von {what} ist fehlgeschlagen: {error}</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/dependency_dialog.py" line="125" />
            <source>Installing {what} for glnet</source>
            <translation>{what} für glnet installieren</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/plugin.py" line="79" />
            <source>Segment land cover…</source>
            <translation>Landbedeckung segmentieren …</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/plugin.py" line="81" />
            <source>Segment a raster into land-cover classes with a GLNet model</source>
            <translation>Ein Raster mit einem GLNet-Modell in Landbedeckungsklassen segmentieren</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/provider.py" line="35" />
            <source>GLNet land-cover segmentation (collaborative global-local networks)</source>
            <translation>GLNet-Landbedeckungssegmentierung (kollaborative global-lokale Netze)</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/provider.py" line="54" />
            <source>a virtual environment folder with torch and glnet, or its python</source>
            <translation>ein Ordner einer virtuellen Umgebung mit torch und glnet, oder ihr python</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/styles.py" line="152" />
            <source>Land-cover mask ({source})</source>
            <translation>Landbedeckungsmaske ({source})</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/styles.py" line="154" />
            <source>Land-cover polygons ({source})</source>
            <translation>Landbedeckungspolygone ({source})</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/styles.py" line="156" />
            <source>Confidence ({source})</source>
            <translation>Konfidenz ({source})</translation>
        </message>
        <message>
            <location filename="../glnet_plugin/styles.py" line="158" />
            <source>Land-cover areas per zone ({source})</source>
            <translation>Landbedeckungsflächen je Zone ({source})</translation>
        </message>
        <message>
            <source>GeoTIFF of class ids (255 = nodata), styled with the classes' colours and names.</source>
            <translation type="vanished">GeoTIFF mit Klassen-IDs (255 = NoData), mit den Farben und Namen der Klassen gestaltet.</translation>
        </message>
        <message>
            <source>A class mask GeoTIFF; class names and colours come from the mask (glnet writes them) unless a model bundle is given.</source>
            <translation type="vanished">Ein GeoTIFF mit Klassenmaske; Klassennamen und Farben stammen aus der Maske (glnet schreibt sie hinein), außer es ist ein Modellpaket angegeben.</translation>
        </message>
        <message>
            <source>Optional: take the class names and colours from this bundle.</source>
            <translation type="vanished">Optional: die Klassennamen und Farben aus diesem Paket nehmen.</translation>
        </message>
        <message>
            <source>Optional: the mask as polygons with class_id, class_name, area_m2 (and confidence), styled by class.</source>
            <translation type="vanished">Optional: die Maske als Polygone mit class_id, class_name, area_m2 (und confidence), nach Klasse gestaltet.</translation>
        </message>
        <message>
            <source>Turns a class mask (one band of class ids, 255 = nodata, as 'Segment land cover' writes it) into polygons that follow the pixel edges exactly, as the command 'glnet vectorize' does: one polygon per connected region of a class, holes kept, nodata left out, in the mask's CRS. Attributes: class_id, class_name, area_m2 (on the ellipsoid for geographic and Mercator CRSs) and, with a confidence raster, confidence. The layer is styled by class.</source>
            <translation type="vanished">Wandelt eine Klassenmaske (ein Kanal mit Klassen-IDs, 255 = NoData, wie 'Landbedeckung segmentieren' sie schreibt) in Polygone um, die genau den Pixelkanten folgen, wie es der Befehl 'glnet vectorize' tut: ein Polygon je zusammenhängendem Gebiet einer Klasse, mit Löchern, ohne NoData, im KBS der Maske. Attribute: class_id, class_name, area_m2 (auf dem Ellipsoid bei geographischen und Mercator-KBS) und, mit einem Konfidenzraster, confidence. Der Layer wird nach Klasse gestaltet.</translation>
        </message>
        <message>
            <source>Window {done} of {total} done</source>
            <translation type="vanished">Fenster {done} von {total} fertig</translation>
        </message>
        <message>
            <source>Done: {windows} window(s), {patches} patches in {seconds:.1f} s; onnxruntime providers: {providers}</source>
            <translation type="vanished">Fertig: {windows} Fenster, {patches} Ausschnitte in {seconds:.1f} s; onnxruntime-Anbieter: {providers}</translation>
        </message>
        <message>
            <source>Class table (deepglobe, inria, a class count or a JSON file; empty: the mask's class names)</source>
            <translation type="vanished">Klassentabelle (deepglobe, inria, eine Klassenanzahl oder eine JSON-Datei; leer: die Klassennamen der Maske)</translation>
        </message>
        <message>
            <source>Reference (class raster, colour mask or vector layer)</source>
            <translation type="vanished">Referenz (Klassenraster, Farbmaske oder Vektorlayer)</translation>
        </message>
        <message>
            <source>Class field of a vector reference (class ids or names)</source>
            <translation type="vanished">Klassenfeld einer Vektorreferenz (Klassen-IDs oder -namen)</translation>
        </message>
        <message>
            <source>Classes to leave out of the scores (names, comma-separated)</source>
            <translation type="vanished">Klassen, die nicht bewertet werden (Namen, durch Kommas getrennt)</translation>
        </message>
        <message>
            <source>Classes to leave out</source>
            <translation type="vanished">Nicht bewertete Klassen</translation>
        </message>
        <message>
            <source>Class names not scored, besides those the table marks as ignored.</source>
            <translation type="vanished">Klassennamen, die nicht bewertet werden, zusätzlich zu denen, die die Tabelle als ignoriert kennzeichnet.</translation>
        </message>
        <message>
            <source>Class names (comma-separated, in id order)</source>
            <translation type="vanished">Klassennamen (durch Kommas getrennt, in ID-Reihenfolge)</translation>
        </message>
        <message>
            <source>Inference modes (comma-separated)</source>
            <translation type="vanished">Inferenzmodi (durch Kommas getrennt)</translation>
        </message>
        <message>
            <source>Ground resolution of the model (m/px; empty: not set)</source>
            <translation type="vanished">Bodenauflösung des Modells (m/px; leer: nicht angegeben)</translation>
        </message>
        <message>
            <source>Texts and numbers for use in models.</source>
            <translation type="vanished">Texte und Zahlen zur Weiterverwendung in Modellen.</translation>
        </message>
        <message>
            <source>Model bundle (a NAME.glnet folder's manifest.json, or a zip)</source>
            <translation type="vanished">Modellpaket (die manifest.json eines Ordners NAME.glnet oder ein Zip)</translation>
        </message>
        <message>
            <source>Bands for the model's inputs (red, green, blue), in that order</source>
            <translation type="vanished">Kanäle für die Eingänge des Modells (Rot, Grün, Blau), in dieser Reihenfolge</translation>
        </message>
        <message>
            <source>Minimum mapping unit (square metres; 0: off)</source>
            <translation type="vanished">Mindestkartierfläche (Quadratmeter; 0: aus)</translation>
        </message>
        <message>
            <source>Simplify polygons (tolerance in metres; 0: exact pixel edges)</source>
            <translation type="vanished">Polygone vereinfachen (Toleranz in Metern; 0: exakte Pixelkanten)</translation>
        </message>
        <message>
            <source>Dask scheduler (tcp://HOST:PORT or a scheduler file; empty: run in QGIS)</source>
            <translation type="vanished">Dask-Scheduler (tcp://HOST:PORT oder eine Scheduler-Datei; leer: in QGIS rechnen)</translation>
        </message>
        <message>
            <source>Confidence (top class probability, percent)</source>
            <translation type="vanished">Konfidenz (Wahrscheinlichkeit der wahrscheinlichsten Klasse, Prozent)</translation>
        </message>
        <message>
            <source>onnxruntime execution providers used</source>
            <translation type="vanished">Verwendete onnxruntime-Ausführungsanbieter</translation>
        </message>
        <message>
            <source>Bands</source>
            <translation type="vanished">Kanäle</translation>
        </message>
        <message>
            <source>Minimum mapping unit</source>
            <translation type="vanished">Mindestkartierfläche</translation>
        </message>
        <message>
            <source>Regions smaller than this many square metres are merged into their neighbours, in the mask and the polygons alike.</source>
            <translation type="vanished">Gebiete, die kleiner als so viele Quadratmeter sind, werden mit ihren Nachbarn verschmolzen, in der Maske wie in den Polygonen.</translation>
        </message>
        <message>
            <source>Simplify polygons</source>
            <translation type="vanished">Polygone vereinfachen</translation>
        </message>
        <message>
            <source>Douglas-Peucker tolerance in metres for the polygons' shared boundaries (no gaps or overlaps appear).</source>
            <translation type="vanished">Douglas-Peucker-Toleranz in Metern für die gemeinsamen Grenzen der Polygone (es entstehen weder Lücken noch Überlappungen).</translation>
        </message>
        <message>
            <source>Confidence</source>
            <translation type="vanished">Konfidenz</translation>
        </message>
        <message>
            <source>Class table (deepglobe, inria, a TABLE.json; empty: the class field's values)</source>
            <translation type="vanished">Klassentabelle (deepglobe, inria, eine TABLE.json; leer: die Werte des Klassenfelds)</translation>
        </message>
        <message>
            <source>Class of pixels outside every polygon (empty: not labelled)</source>
            <translation type="vanished">Klasse der Pixel außerhalb aller Polygone (leer: nicht beschriftet)</translation>
        </message>
        <message>
            <source>Network configuration (ignored with a start checkpoint)</source>
            <translation type="vanished">Netzkonfiguration (mit einem Start-Checkpoint ignoriert)</translation>
        </message>
        <message>
            <source>Start checkpoint (instead of a configuration's random weights)</source>
            <translation type="vanished">Start-Checkpoint (statt der Zufallsgewichte einer Konfiguration)</translation>
        </message>
        <message>
            <source>Epochs (N for every stage, or N,N,N for global, g2l, l2g; empty: 120,50,120)</source>
            <translation type="vanished">Epochen (N für jede Stufe oder N,N,N für global, g2l, l2g; leer: 120,50,120)</translation>
        </message>
        <message>
            <source>Backbone weights (torchvision ImageNet .pth)</source>
            <translation type="vanished">Backbone-Gewichte (torchvision-ImageNet-.pth)</translation>
        </message>
        <message>
            <source>Validation fraction (of the labelled areas held out)</source>
            <translation type="vanished">Validierungsanteil (der zurückgehaltenen beschrifteten Gebiete)</translation>
        </message>
        <message>
            <source>Resume the interrupted run saved in the output checkpoint</source>
            <translation type="vanished">Den unterbrochenen Lauf im Ausgabe-Checkpoint fortsetzen</translation>
        </message>
        <message>
            <source>Output model bundle (NAME.glnet folder)</source>
            <translation type="vanished">Ausgabe-Modellpaket (Ordner NAME.glnet)</translation>
        </message>
        <message>
            <source>Model bundle manifest (for glnet:segment in models)</source>
            <translation type="vanished">Manifest des Modellpakets (für glnet:segment in Modellen)</translation>
        </message>
        <message>
            <source>Class of pixels outside every polygon</source>
            <translation type="vanished">Klasse der Pixel außerhalb aller Polygone</translation>
        </message>
        <message>
            <source>A class name or id given to unlabelled pixels; empty: the loss ignores them.</source>
            <translation type="vanished">Ein Klassenname oder eine Klassen-ID für unbeschriftete Pixel; leer: der Verlust ignoriert sie.</translation>
        </message>
        <message>
            <source>Epochs</source>
            <translation type="vanished">Epochen</translation>
        </message>
        <message>
            <source>Epochs per stage: one number for every stage, or three for global, g2l and l2g. Empty: the published 120, 50 and 120.</source>
            <translation type="vanished">Epochen je Stufe: eine Zahl für jede Stufe oder drei für global, g2l und l2g. Leer: die veröffentlichten 120, 50 und 120.</translation>
        </message>
        <message>
            <source>Resume</source>
            <translation type="vanished">Fortsetzen</translation>
        </message>
        <message>
            <source>Regions smaller than this many square metres are merged into their largest neighbour first (no gaps appear).</source>
            <translation type="vanished">Gebiete, die kleiner als so viele Quadratmeter sind, werden zuerst mit ihrem größten Nachbarn verschmolzen (es entstehen keine Lücken).</translation>
        </message>
        <message>
            <source>Douglas-Peucker tolerance in metres, applied to the shared boundaries so neighbours keep meeting without gaps or overlaps.</source>
            <translation type="vanished">Douglas-Peucker-Toleranz in Metern, angewandt auf die gemeinsamen Grenzen, damit Nachbarn ohne Lücken oder Überlappungen aneinanderstoßen.</translation>
        </message>
        <message>
            <source>Zone field (identifies each zone)</source>
            <translation type="vanished">Zonenfeld (kennzeichnet jede Zone)</translation>
        </message>
        <message>
            <source>Class areas per zone (GeoPackage or CSV)</source>
            <translation type="vanished">Klassenflächen je Zone (GeoPackage oder CSV)</translation>
        </message>
        <message>
            <source>glnet will run this command, which downloads onnxruntime from PyPI into a folder used only by this plugin (QGIS's own packages, numpy included, are not touched):

{command}

Continue?</source>
            <translation type="vanished">glnet führt diesen Befehl aus, der onnxruntime von PyPI in einen Ordner lädt, den nur dieses Plugin verwendet (die Pakete von QGIS, auch numpy, bleiben unberührt):

{command}

Fortfahren?</translation>
        </message>
        <message>
            <source>onnxruntime is installed; glnet is ready.</source>
            <translation type="vanished">onnxruntime ist installiert; glnet ist bereit.</translation>
        </message>
        <message>
            <source>Installing onnxruntime failed: {error}</source>
            <translation type="vanished">Die Installation von onnxruntime ist fehlgeschlagen: {error}</translation>
        </message>
        <message>
            <source>Installing onnxruntime for glnet</source>
            <translation type="vanished">onnxruntime für glnet installieren</translation>
        </message>
    </context>
</TS>
